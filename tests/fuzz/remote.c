/* Fuzz target: remote demand frames (the API server's websocket messages) through
 * remote_parse_demand into a task table, the complaint limiter, and a decision on the result
 * with the budget and bounds checked. Input: one frame. */
/* fuzz-flags: -max_len=8192 -dict=tests/fuzz/json.dict */
#include "fuzz.h"
#include "fuzz_decide.h"

#include "demand/config.h"
#include "demand/engine_remote.h"

static struct task_table tt;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_JSON);
	static const char apps[] =
	    "{\"maxContainers\": 10, \"apps\": ["
	    "{\"name\": \"priority1-demo\", \"priority\": 1, \"minContainers\": 1, "
	    "\"maxContainers\": 10, \"config\": {\"image\": \"a:1\"}},"
	    "{\"name\": \"priority2-demo\", \"priority\": 2, \"minContainers\": 0, "
	    "\"maxContainers\": 10, \"config\": {\"image\": \"b:1\"}},"
	    "{\"name\": \"fixed\", \"priority\": 3, \"minContainers\": 2, \"maxContainers\": 2, "
	    "\"isScalable\": false, \"config\": {\"image\": \"c:1\"}}]}";
	struct err e = ERR_INIT;
	task_table_init(&tt);
	if (config_parse_apps(apps, sizeof apps - 1, NULL, &tt, &e) != 0) {
		fprintf(stderr, "remote fuzz: %s\n", e.msg);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < tt.len; i++) {
		struct task *t = tt.tasks[i];
		t->remote_demand = -1;
		t->demand = t->requested = t->running = 0;
		t->pending_starts = t->pending_stops = 0;
	}
	struct remote_parse p;
	int rc = remote_parse_demand((const char *)data, size, &tt, &p);
	int bad_entries = 0;
	for (int k = REMOTE_BAD_ENTRY; k < REMOTE_BAD_KINDS; k++)
		bad_entries += p.bad[k];
	if (rc == 0) {
		FUZZ_ASSERT(p.bad[REMOTE_BAD_JSON] == 0 && p.bad[REMOTE_BAD_SHAPE] == 0);
		FUZZ_ASSERT(p.applied + bad_entries == p.entries);
	} else {
		FUZZ_ASSERT(p.bad[REMOTE_BAD_JSON] + p.bad[REMOTE_BAD_SHAPE] == 1);
		FUZZ_ASSERT(p.applied == 0 && bad_entries == 0);
	}
	struct remote_limiter lim;
	memset(&lim, 0, sizeof lim);
	for (int k = 0; k < REMOTE_BAD_KINDS; k++) {
		uint64_t suppressed;
		if (p.bad[k]) {
			FUZZ_ASSERT(p.detail[k][0] &&
			            memchr(p.detail[k], '\0', sizeof p.detail[k]));
			(void)remote_limiter_allow(&lim, (enum remote_bad)k, p.bad[k], 1000,
			                           &suppressed);
			if (fuzz_verbose())
				fprintf(stderr, "remote: %s x%d: %s\n",
				        remote_bad_name((enum remote_bad)k), p.bad[k], p.detail[k]);
		}
	}
	if (fuzz_verbose())
		fprintf(stderr, "remote: rc %d, %d entries, %d applied\n", rc, p.entries,
		        p.applied);
	struct decision d;
	decision_init(&d);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < tt.len; i++) {
			struct task *t = tt.tasks[i];
			FUZZ_ASSERT(t->remote_demand >= -1 && t->remote_demand <= REMOTE_MAX_COUNT);
			remote_want(t);
		}
		decision_reset(&d);
		decide(&tt, 1000 + 500u * (unsigned)round, DECIDE_NO_WALL, &d);
		fuzz_check_decision(&tt, &d);
		fuzz_carry_out(&tt);
	}
	decision_free(&d);
	return 0;
}
