/* Fuzz target: the apps JSON (MSS_CONFIG_DATA, a config file, or GET /apps/<user> from the API
 * server) through config_parse_apps, every metric source's config, --check-config's table, and, for
 * a document that loads, a few decision rounds on it with the budget and bounds checked.
 * Input: the document itself. */
/* fuzz-flags: -max_len=16384 -dict=tests/fuzz/json.dict */
#include <math.h>

#include "fuzz.h"
#include "fuzz_decide.h"

#include "demand/config.h"
#include "demand/decide.h"
#include "demand/task.h"
#include "utils/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_LOGFMT);
	/* What the metric sources read from the environment, so their configs load. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	setenv("AWS_REGION", "eu-west-1", 1);
	setenv("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1", 1);
	setenv("AZURE_STORAGE_ACCOUNT_KEY", "Zm9vYmFy", 1);
	setenv("NSQ_STATS_ENDPOINT", "127.0.0.1:4151", 1);
	return 0;
}

/* Readings the metric sources can produce: counts, rates, huge, negative (the HTTP source reads
 * any number) and infinite (Prometheus "+Inf", RabbitMQ or NSQ 1e999). */
static const double readings[] = {0,     1,    7,    50, 1e3,    1e6,     1e12,
                                  1e300, 0.25, 42.5, -3, -1e300, INFINITY};

static void run_decisions(struct task_table *tt, size_t seed)
{
	struct decision d;
	decision_init(&d);
	uint64_t now = 1000000;
	for (int round = 0; round < 4; round++, now += 500) {
		for (size_t i = 0; i < tt->len; i++) {
			struct task *t = tt->tasks[i];
			size_t k = (seed + i * 3 + (size_t)round * 7) %
			           (sizeof readings / sizeof *readings);
			t->reading =
			    (struct reading){.value = readings[k], .valid = true, .at_ms = now};
			decide_want_local(t, now);
		}
		decision_reset(&d);
		decide(tt, now, DECIDE_NO_WALL, &d);
		fuzz_check_decision(tt, &d);
		fuzz_carry_out(tt);
	}
	/* Schedule floors at some minute of the week (they may raise a min). */
	(void)decide_schedule_floor(&tt->tasks[0]->policy, (int)(seed % WEEK_MINUTES));
	decision_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	task_table_init(&tt);
	if (config_parse_apps((const char *)data, size, NULL, &tt, &e) == 0) {
		static FILE *null;
		if (!null)
			null = fopen("/dev/null", "w");
		if (null)
			config_print_table(&tt, null);
		if (tt.len)
			run_decisions(&tt, size);
		if (fuzz_verbose())
			fprintf(stderr, "config: %zu tasks, budget %d\n", tt.len,
			        tt.budget.containers);
	} else {
		if (fuzz_verbose())
			fprintf(stderr, "config: %s\n", e.msg);
		FUZZ_ASSERT(tt.len == 0 && e.msg[0]); /* unchanged on failure, and says why */
	}
	task_table_free(&tt);
	return 0;
}
