/* Fuzz target: what a Swarm manager sends back. Input: one selector byte, then the body.
 * Selector % 4: 0 GET /services (each service tallied), 1 GET /services/{id} and the replica update
 * of its Spec, 2 GET /tasks into per-service counts, 3 GET /events (a stream of lines) and the
 * update conflict test on the body as an error message. */
/* fuzz-flags: -max_len=16384 -dict=tests/fuzz/swarm.dict */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "scheduler/swarm.h"
#include "utils/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_LOGFMT);
	return 0;
}

static void check_service(const struct swarm_service *s)
{
	FUZZ_ASSERT(s->id[0] && memchr(s->id, '\0', sizeof s->id));
	FUZZ_ASSERT(memchr(s->name, '\0', sizeof s->name) &&
	            memchr(s->owner, '\0', sizeof s->owner));
	FUZZ_ASSERT(s->replicas >= 0 && s->replicas <= 1000000);
	FUZZ_ASSERT(s->replicated || s->replicas == 0);
}

static void on_service(const struct swarm_service *s, void *arg)
{
	check_service(s);
	++*(int *)arg;
}

struct tally {
	struct swarm_counts c;
	int n;
};

static void on_task(const struct swarm_task *t, void *arg)
{
	struct tally *ta = arg;
	FUZZ_ASSERT(memchr(t->service_id, '\0', sizeof t->service_id));
	swarm_tally(&ta->c, t);
	ta->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t sel = fuzz_byte(&in);
	struct err e = ERR_INIT;
	size_t len;
	char *body = fuzz_rest(&in, false, &len);
	switch (sel % 4) {
	case 0: {
		int seen = 0;
		int n = swarm_parse_services(body, len, on_service, &seen, &e);
		FUZZ_ASSERT(n == -1 ? seen == 0 && e.msg[0] : n == seen);
		break;
	}
	case 1: {
		struct swarm_service s;
		cJSON *spec = NULL;
		if (swarm_parse_service(body, len, &s, &spec, &e) == 0) {
			check_service(&s);
			if (spec && swarm_set_replicas(spec, (int)(sel >> 2), &e) == 0) {
				/* What goes back to the engine: the same Spec, replicas changed. */
				char *out = cJSON_PrintUnformatted(spec);
				FUZZ_ASSERT(out && s.replicated);
				free(out);
			}
			cJSON_Delete(spec);
		} else {
			FUZZ_ASSERT(e.msg[0] && !spec);
		}
		break;
	}
	case 2: {
		struct tally ta = {{0, 0, 0}, 0};
		int n = swarm_parse_tasks(body, len, on_task, &ta, &e);
		FUZZ_ASSERT(n == -1 ? ta.n == 0 : n == ta.n);
		FUZZ_ASSERT(ta.c.wanted <= ta.c.running && ta.c.running <= ta.n &&
		            ta.c.stopping <= ta.n);
		break;
	}
	default: {
		size_t start = 0;
		for (size_t i = 0; i <= len; i++) {
			if (i < len && body[i] != '\n')
				continue;
			char name[128];
			if (i > start &&
			    swarm_parse_event(body + start, i - start, name, sizeof name) == 1)
				FUZZ_ASSERT(name[0] && memchr(name, '\0', sizeof name));
			start = i + 1;
		}
		char *msg = malloc(len + 1);
		if (len)
			memcpy(msg, body, len);
		msg[len] = '\0';
		(void)swarm_out_of_sequence(msg);
		free(msg);
	}
	}
	if (fuzz_verbose())
		fprintf(stderr, "swarm %d: %s\n", sel % 4, e.msg);
	free(body);
	return 0;
}
