/* Swarm backend pure parts: services, tasks and how they count, the replica update, the create
 * body, conflicts and events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "demand/task.h"
#include "scheduler/swarm.h"

#define SVC(id, name, idx, mode)                                                                   \
	"{\"ID\":\"" id "\",\"Version\":{\"Index\":" #idx "},\"Spec\":{\"Name\":\"" name           \
	"\",\"Labels\":{\"com.microscaling.owner\":\"me\"},\"TaskTemplate\":{\"ContainerSpec\":"  \
	"{\"Image\":\"app:1\"}},\"Mode\":" mode "}}"

struct seen {
	struct swarm_service s[4];
	int n;
};

static void collect(const struct swarm_service *s, void *arg)
{
	struct seen *x = arg;
	if (x->n < 4)
		x->s[x->n++] = *s;
}

static void test_services_list_gives_id_version_replicas_and_owner(void **state)
{
	const char *body = "[" SVC("abc", "web", 42, "{\"Replicated\":{\"Replicas\":3}}") ","
			   SVC("def", "agent", 7, "{\"Global\":{}}") ","
			   "{\"ID\":\"x\"}," /* no spec: skipped */
			   SVC("ghi", "one", 1, "{\"Replicated\":{}}") "]";
	struct seen x = {0};
	struct err e = ERR_INIT;
	assert_int_equal(swarm_parse_services(body, strlen(body), collect, &x, &e), 3);
	assert_string_equal(x.s[0].id, "abc");
	assert_string_equal(x.s[0].name, "web");
	assert_int_equal(x.s[0].version, 42);
	assert_true(x.s[0].replicated);
	assert_int_equal(x.s[0].replicas, 3);
	assert_string_equal(x.s[0].owner, "me");
	assert_false(x.s[1].replicated); /* global: not scalable */
	assert_int_equal(x.s[2].replicas, 1); /* Replicas omitted: the engine's default, 1 */
	assert_int_equal(swarm_parse_services("{}", 2, collect, &x, &e), -1);
	assert_non_null(strstr(e.msg, "/services"));
}

static void test_inspect_gives_the_spec_to_update_with_new_replicas(void **state)
{
	const char *body = SVC("abc", "web", 42, "{\"Replicated\":{\"Replicas\":3}}");
	struct swarm_service s;
	cJSON *spec = NULL;
	struct err e = ERR_INIT;
	assert_int_equal(swarm_parse_service(body, strlen(body), &s, &spec, &e), 0);
	assert_int_equal(s.version, 42);
	assert_non_null(spec);
	assert_int_equal(swarm_set_replicas(spec, 7, &e), 0);
	char *out = cJSON_PrintUnformatted(spec);
	/* the whole spec goes back, only the replicas changed */
	assert_non_null(strstr(out, "\"Mode\":{\"Replicated\":{\"Replicas\":7}}"));
	assert_non_null(strstr(out, "\"Image\":\"app:1\""));
	assert_non_null(strstr(out, "\"com.microscaling.owner\":\"me\""));
	cJSON_free(out);
	cJSON_Delete(spec);

	const char *global = SVC("def", "agent", 7, "{\"Global\":{}}");
	assert_int_equal(swarm_parse_service(global, strlen(global), &s, &spec, &e), 0);
	assert_int_equal(swarm_set_replicas(spec, 2, &e), -1);
	assert_non_null(strstr(e.msg, "replicated"));
	cJSON_Delete(spec);
	assert_int_equal(swarm_parse_service("[]", 2, &s, NULL, &e), -1);
}

/* Numbers no engine sends, but a proxy or a bug might: never converted out of range (that is
 * undefined behaviour, found by the swarm fuzz target). */
static void test_out_of_range_version_or_replicas_are_refused_or_clamped(void **state)
{
	struct swarm_service s;
	struct err e = ERR_INIT;
	const char *huge = SVC("abc", "web", 1e30, "{\"Replicated\":{\"Replicas\":2}}");
	assert_int_equal(swarm_parse_service(huge, strlen(huge), &s, NULL, &e), -1);
	const char *inf = SVC("abc", "web", 1e999, "{\"Replicated\":{\"Replicas\":2}}");
	assert_int_equal(swarm_parse_service(inf, strlen(inf), &s, NULL, &e), -1);
	const char *neg = SVC("abc", "web", 3, "{\"Replicated\":{\"Replicas\":-1e30}}");
	assert_int_equal(swarm_parse_service(neg, strlen(neg), &s, NULL, &e), 0);
	assert_int_equal(s.version, 3);
	assert_int_equal(s.replicas, 0);
	const char *big = SVC("abc", "web", 3, "{\"Replicated\":{\"Replicas\":1e30}}");
	assert_int_equal(swarm_parse_service(big, strlen(big), &s, NULL, &e), 0);
	assert_int_equal(s.replicas, 1000000);
}

struct tally {
	struct swarm_counts a, b;
};

static void count(const struct swarm_task *t, void *arg)
{
	struct tally *x = arg;
	swarm_tally(strcmp(t->service_id, "A") == 0 ? &x->a : &x->b, t);
}

#define TASK(svc, state, desired)                                                                  \
	"{\"ServiceID\":\"" svc "\",\"Status\":{\"State\":\"" state "\"},\"DesiredState\":\""       \
	desired "\"}"

static void test_running_counts_tasks_not_desired_replicas(void **state)
{
	const char *body = "[" TASK("A", "running", "running") "," TASK("A", "starting", "running")
			   "," TASK("A", "pending", "running") "," TASK("A", "running", "shutdown")
			   "," TASK("A", "shutdown", "shutdown") "," TASK("A", "failed", "shutdown")
			   "," TASK("A", "complete", "shutdown") "," TASK("B", "running", "running")
			   "," TASK("B", "preparing", "shutdown") "," TASK("B", "new", "ready") ","
			   "{\"ServiceID\":\"A\"}]";
	struct tally x = {0};
	struct err e = ERR_INIT;
	assert_int_equal(swarm_parse_tasks(body, strlen(body), count, &x, &e), 10);
	assert_int_equal(x.a.running, 2);  /* the one being stopped still runs */
	assert_int_equal(x.a.wanted, 1);   /* so pending_starts for 3 desired = 3 - 1 = 2 */
	assert_int_equal(x.a.stopping, 1); /* finished tasks count for nothing */
	assert_int_equal(x.b.running, 1);
	assert_int_equal(x.b.wanted, 1);
	assert_int_equal(x.b.stopping, 1); /* told to stop before it ran */
	assert_int_equal(swarm_parse_tasks("nope", 4, count, &x, &e), -1);
}

static void test_create_body_carries_the_task_and_our_labels(void **state)
{
	struct task *t = task_new("web");
	char *cmd[] = {"/bin/sleep", "60", NULL};
	char *env[] = {"A=1", NULL};
	struct kv labels[] = {{"team", "core"}};
	t->spec.image = "app:2";
	t->spec.command = cmd;
	t->spec.env = env;
	t->spec.labels = labels;
	t->spec.labels_len = 1;
	t->spec.stop_timeout_s = 3;
	t->spec.memory_bytes = 1 << 20;
	t->spec.nano_cpus = 500000000;
	cJSON *b = swarm_create_spec(t, "web-svc", "me", 4);
	char *s = cJSON_PrintUnformatted(b);
	assert_non_null(strstr(s, "\"Name\":\"web-svc\""));
	assert_non_null(strstr(s, "\"Labels\":{\"team\":\"core\",\"com.microscaling.task\":\"web\","
				  "\"com.microscaling.owner\":\"me\"}"));
	assert_non_null(strstr(s, "\"Image\":\"app:2\""));
	assert_non_null(strstr(s, "\"Args\":[\"/bin/sleep\",\"60\"]"));
	assert_non_null(strstr(s, "\"Env\":[\"A=1\"]"));
	assert_non_null(strstr(s, "\"StopGracePeriod\":3000000000"));
	assert_non_null(strstr(s, "\"Limits\":{\"NanoCPUs\":500000000,\"MemoryBytes\":1048576}"));
	assert_non_null(strstr(s, "\"Mode\":{\"Replicated\":{\"Replicas\":4}}"));
	cJSON_free(s);
	cJSON_Delete(b);
	memset(&t->spec, 0, sizeof t->spec); /* borrowed above: not task_free's to free */
	task_free(t);
}

static void test_out_of_sequence_is_recognised_in_the_engine_message(void **state)
{
	assert_true(swarm_out_of_sequence("rpc error: code = Unknown desc = update out of sequence"));
	assert_false(swarm_out_of_sequence("500 something else"));
	assert_false(swarm_out_of_sequence(NULL));
}

static void test_events_name_the_service_they_concern(void **state)
{
	char name[64];
	const char *svc = "{\"Type\":\"service\",\"Action\":\"update\",\"Actor\":{\"ID\":\"x\","
			  "\"Attributes\":{\"name\":\"web\"}}}";
	const char *ctr = "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"y\","
			  "\"Attributes\":{\"com.docker.swarm.service.name\":\"web\"}}}";
	const char *plain = "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"y\","
			    "\"Attributes\":{\"name\":\"db\"}}}";
	assert_int_equal(swarm_parse_event(svc, strlen(svc), name, sizeof name), 1);
	assert_string_equal(name, "web");
	assert_int_equal(swarm_parse_event(ctr, strlen(ctr), name, sizeof name), 1);
	assert_string_equal(name, "web");
	assert_int_equal(swarm_parse_event(plain, strlen(plain), name, sizeof name), 0);
	assert_int_equal(swarm_parse_event("garbage", 7, name, sizeof name), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_services_list_gives_id_version_replicas_and_owner),
	    cmocka_unit_test(test_inspect_gives_the_spec_to_update_with_new_replicas),
	    cmocka_unit_test(test_out_of_range_version_or_replicas_are_refused_or_clamped),
	    cmocka_unit_test(test_running_counts_tasks_not_desired_replicas),
	    cmocka_unit_test(test_create_body_carries_the_task_and_our_labels),
	    cmocka_unit_test(test_out_of_sequence_is_recognised_in_the_engine_message),
	    cmocka_unit_test(test_events_name_the_service_they_concern),
	};
	return cmocka_run_group_tests_name("swarm", tests, NULL, NULL);
}
