/* The Docker backend on a real loop against a scripted engine (fake_docker.h): orderings of
 * replies, events and lists that a real engine produces only now and then. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scheduler/scheduler.h"
#include "utils/log.h"
#include "utils/settings.h"
#include "utils/util.h"
#include "fake_docker.h"

#define WATCHDOG_MS 5000
#define OWNER "test"

struct fx {
	uv_loop_t loop;
	uv_timer_t ticker;   /* the agent's tick: sync when auto_sync; also wakes UV_RUN_ONCE */
	uv_timer_t watchdog; /* turns a hang into a failure */
	bool expired;
	struct fd_engine fd;
	struct task_table tt;
	struct settings s;
	struct scheduler *sched;
	bool auto_sync;
	bool close_when_idle; /* the agent: a drain ends (and everything closes) once idle */
	bool closing;
	int closed_calls;
};

static void on_ticker(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, ticker);
	if (f->auto_sync && !f->closing && f->sched->impl)
		f->sched->ops->sync(f->sched);
	uv_stop(&f->loop);
}

static void on_watchdog(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, watchdog);
	f->expired = true;
	uv_stop(&f->loop);
}

#define RUN_UNTIL(f, cond)                                                                         \
	do {                                                                                       \
		(f)->expired = false;                                                              \
		uv_timer_start(&(f)->watchdog, on_watchdog, WATCHDOG_MS, 0);                       \
		while (!(cond) && !(f)->expired)                                                   \
			uv_run(&(f)->loop, UV_RUN_ONCE);                                           \
		uv_timer_stop(&(f)->watchdog);                                                     \
		assert_true(cond);                                                                 \
	} while (0)

/* Run the loop for about `ms` whatever happens. */
static void run_for(struct fx *f, unsigned ms)
{
	uint64_t end = util_mono_ms() + ms;
	while (util_mono_ms() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void on_sched_closed(struct scheduler *s)
{
	struct fx *f = s->core;
	f->closed_calls++;
}

static void close_sched(struct fx *f)
{
	if (f->closing)
		return;
	f->closing = true;
	f->sched->ops->close(f->sched, on_sched_closed);
}

static void on_counts(struct scheduler *s, struct task *t)
{
	struct fx *f = s->core;
	(void)t;
	if (f->close_when_idle && s->ready && task_table_idle(&f->tt))
		close_sched(f);
}

static struct task *add_task(struct fx *f, const char *name, int demand)
{
	struct task *t = task_new(name);
	t->max = 10;
	t->demand = demand;
	t->spec.image = xstrdup("mss-test:latest");
	t->spec.stop_timeout_s = 1;
	task_table_add(&f->tt, t);
	return t;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->ticker);
	uv_timer_init(&f->loop, &f->watchdog);
	assert_int_equal(fd_start(&f->fd, &f->loop), 0);
	task_table_init(&f->tt);
	f->s.docker_host = f->fd.host;
	f->s.instance_id = OWNER;
	f->s.docker_concurrency = 4;
	f->s.reconcile_ms = 3600 * 1000;
	uv_timer_start(&f->ticker, on_ticker, 5, 5);
	*state = f;
	return 0;
}

/* Start the backend and wait for its first view of the engine. */
static void start(struct fx *f)
{
	struct err e = ERR_INIT;
	f->sched = scheduler_new("DOCKER", &f->loop, &f->tt, &f->s, &e);
	assert_non_null(f->sched);
	f->sched->on_counts = on_counts;
	f->sched->core = f;
	assert_int_equal(f->sched->ops->start(f->sched, &e), 0);
	RUN_UNTIL(f, f->sched->ready);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->sched && f->sched->impl)
		close_sched(f);
	uv_timer_stop(&f->ticker);
	if (f->sched && f->sched->impl)
		RUN_UNTIL(f, f->closed_calls > 0);
	fd_stop(&f->fd);
	uv_close((uv_handle_t *)&f->ticker, NULL);
	uv_close((uv_handle_t *)&f->watchdog, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	if (f->sched && f->sched->impl)
		assert_int_equal(f->closed_calls, 1);
	assert_int_equal(f->fd.open_handles, 0);
	scheduler_free(f->sched);
	task_table_free(&f->tt);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	fd_cleanup(&f->fd);
	free(f);
	return 0;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_adopts_owned_containers_and_scales_to_demand(void **state)
{
	struct fx *f = *state;
	fd_add(&f->fd, "web", OWNER, "running");
	fd_add(&f->fd, "web", "someone-else", "running");
	struct task *t = add_task(f, "web", 1);
	start(f);
	assert_int_equal(t->running, 1);
	f->auto_sync = true;
	t->demand = 3;
	RUN_UNTIL(f, t->running == 3 && t->pending_starts == 0);
	t->demand = 0;
	RUN_UNTIL(f, task_table_idle(&f->tt));
	assert_int_equal(fd_count(&f->fd, NULL), 1); /* someone else's is never touched */
}

/* The drain's end (everything idle) can come from an event; the agent then closes everything
 * from inside that callback, the event stream included. */
static void test_idle_reached_inside_an_event_closes_cleanly(void **state)
{
	struct fx *f = *state;
	struct fd_container *ct = fd_add(&f->fd, "web", OWNER, "running");
	struct task *t = add_task(f, "web", 1);
	start(f);
	assert_int_equal(t->running, 1);
	f->close_when_idle = true;
	/* Removed from outside (docker rm -f): die, then destroy, in one piece of the stream. */
	fd_event(&f->fd, ct, "die", 137);
	fd_event(&f->fd, ct, "destroy", -1);
	fd_remove(&f->fd, ct);
	RUN_UNTIL(f, f->closed_calls > 0);
	assert_int_equal(t->running, 0);
}

/* A request that fails while a reconnect's GET /version is in flight takes the link down again;
 * the version reply that then arrives must not bring it up beside the retry that follows, or
 * two event streams run (the first one leaked, holding a connection slot for good). */
static void test_link_lost_while_connecting_keeps_one_event_stream(void **state)
{
	struct fx *f = *state;
	fd_add(&f->fd, "web", OWNER, "running");
	struct task *t = add_task(f, "web", 1);
	start(f);
	f->fd.hold[FD_STOP] = true;
	t->demand = 0;
	f->sched->ops->sync(f->sched);
	RUN_UNTIL(f, f->fd.held[FD_STOP] == 1);
	/* The engine drops the stream: reconnect, and the version request waits. */
	f->fd.hold[FD_VERSION] = true;
	fd_end_streams(&f->fd);
	RUN_UNTIL(f, f->fd.held[FD_VERSION] == 1);
	/* Meanwhile the stop fails on the wire, then the version answers. */
	f->fd.hold[FD_STOP] = false;
	f->fd.drop[FD_STOP] = true;
	fd_drop(&f->fd, FD_STOP);
	run_for(f, 50);
	f->fd.drop[FD_STOP] = false;
	f->fd.hold[FD_VERSION] = false;
	fd_release(&f->fd, FD_VERSION);
	/* Past any retry the link might still have scheduled. */
	run_for(f, 1500);
	assert_int_equal(f->fd.streams, 1);
	assert_int_equal(f->fd.max_streams, 1);
	f->auto_sync = true;
	RUN_UNTIL(f, task_table_idle(&f->tt));
	assert_int_equal(fd_count(&f->fd, NULL), 0);
}

/* The list is a snapshot taken when the engine answers; anything that happened after the
 * request left (and that events or replies already told us) is newer than the list. */
static void test_list_taken_before_a_create_keeps_the_new_container(void **state)
{
	struct fx *f = *state;
	f->s.reconcile_ms = 50;
	struct task *t = add_task(f, "web", 0);
	start(f);
	f->auto_sync = true;
	f->fd.hold[FD_LIST] = true; /* the next reconcile's snapshot: nothing yet */
	RUN_UNTIL(f, f->fd.held[FD_LIST] == 1);
	t->demand = 1;
	RUN_UNTIL(f, t->running == 1);
	int lists = f->fd.requests[FD_LIST];
	f->fd.hold[FD_LIST] = false;
	fd_release(&f->fd, FD_LIST);
	RUN_UNTIL(f, f->fd.requests[FD_LIST] >= lists + 2); /* two more reconciles */
	assert_int_equal(f->fd.requests[FD_CREATE], 1);
	assert_int_equal(fd_count(&f->fd, NULL), 1);
	assert_int_equal(t->running, 1);
	assert_int_equal(t->requested, 1);
}

static void test_list_taken_before_a_start_keeps_the_started_container(void **state)
{
	struct fx *f = *state;
	f->s.reconcile_ms = 50;
	struct task *t = add_task(f, "web", 0);
	start(f);
	f->auto_sync = true;
	f->fd.hold[FD_START] = true;
	t->demand = 1;
	RUN_UNTIL(f, f->fd.held[FD_START] == 1);
	f->fd.hold[FD_LIST] = true; /* snapshot: created, not started */
	RUN_UNTIL(f, f->fd.held[FD_LIST] == 1);
	f->fd.hold[FD_START] = false;
	fd_release(&f->fd, FD_START);
	RUN_UNTIL(f, t->running == 1);
	int lists = f->fd.requests[FD_LIST];
	f->fd.hold[FD_LIST] = false;
	fd_release(&f->fd, FD_LIST);
	RUN_UNTIL(f, f->fd.requests[FD_LIST] >= lists + 2);
	assert_int_equal(f->fd.deleted_ids, 0); /* a healthy container is never removed */
	assert_int_equal(f->fd.requests[FD_CREATE], 1);
	assert_int_equal(t->running, 1);
}

static void test_list_taken_before_a_removal_adopts_no_ghost(void **state)
{
	struct fx *f = *state;
	f->s.reconcile_ms = 50;
	struct fd_container *old = fd_add(&f->fd, "web", OWNER, "running");
	struct fd_container *mid = fd_add(&f->fd, "web", OWNER, "running");
	char mid_id[65];
	snprintf(mid_id, sizeof mid_id, "%s", mid->id);
	struct task *t = add_task(f, "web", 2);
	start(f);
	f->auto_sync = true;
	f->fd.hold[FD_LIST] = true; /* snapshot: both running */
	RUN_UNTIL(f, f->fd.held[FD_LIST] == 1);
	fd_exit(&f->fd, old, 1, false); /* crashes: removed and replaced by a newer one */
	RUN_UNTIL(f, f->fd.requests[FD_CREATE] == 1 && t->running == 2 && !task_settling(t));
	int lists = f->fd.requests[FD_LIST];
	fd_release(&f->fd, FD_LIST); /* answered; the next reconcile is held again */
	RUN_UNTIL(f, f->fd.requests[FD_LIST] >= lists + 1);
	/* Scale down by one: the newest (the replacement) goes, not one the list resurrected
	 * or hid. */
	t->demand = 1;
	RUN_UNTIL(f, t->running == 1 && !task_settling(t));
	assert_int_equal(f->fd.requests[FD_STOP], 1);
	assert_int_equal(fd_count(&f->fd, NULL), 1);
	assert_non_null(fd_find(&f->fd, mid_id));
}

/* Restart policies: the engine says "restarting" while it will bring a container back, and
 * "exited" once it will not (on-failure after a clean exit or its retry limit). */
static struct fd_container *only_container(struct fx *f)
{
	assert_int_equal(fd_count(&f->fd, NULL), 1);
	return f->fd.containers;
}

static void test_restart_policy_container_the_engine_gives_up_on_is_replaced(void **state)
{
	struct fx *f = *state;
	struct task *t = add_task(f, "web", 1);
	t->spec.restart_policy = xstrdup("on-failure");
	start(f);
	f->auto_sync = true;
	RUN_UNTIL(f, t->running == 1 && !task_settling(t));
	f->fd.list_lags = true; /* a list right after the die would still say "running" */
	fd_exit(&f->fd, only_container(f), 0, false); /* exit 0: on-failure does not restart */
	RUN_UNTIL(f, f->fd.deleted_ids == 1 && f->fd.requests[FD_CREATE] == 2 && t->running == 1 &&
			     !task_settling(t));
	assert_int_equal(t->stats.crashed, 1);
}

static void test_restart_policy_container_being_restarted_is_left_to_the_engine(void **state)
{
	struct fx *f = *state;
	struct task *t = add_task(f, "web", 1);
	t->spec.restart_policy = xstrdup("always");
	start(f);
	f->auto_sync = true;
	RUN_UNTIL(f, t->running == 1 && !task_settling(t));
	struct fd_container *ct = only_container(f);
	fd_exit(&f->fd, ct, 1, true);
	RUN_UNTIL(f, t->pending_starts == 1);
	run_for(f, 200);
	assert_int_equal(t->pending_starts, 1); /* the engine's restart, counted as a start */
	assert_int_equal(t->running, 0);
	fd_restart(&f->fd, ct);
	RUN_UNTIL(f, t->running == 1 && !task_settling(t));
	assert_int_equal(f->fd.deleted_ids, 0);
	assert_int_equal(f->fd.requests[FD_CREATE], 1);
}

static void test_scale_down_removes_a_container_waiting_for_its_restart(void **state)
{
	struct fx *f = *state;
	struct task *t = add_task(f, "web", 1);
	t->spec.restart_policy = xstrdup("always");
	start(f);
	f->auto_sync = true;
	RUN_UNTIL(f, t->running == 1 && !task_settling(t));
	fd_exit(&f->fd, only_container(f), 1, true); /* and the engine's backoff is long */
	RUN_UNTIL(f, t->pending_starts == 1);
	t->demand = 0; /* a drain does not wait for the engine to restart it first */
	RUN_UNTIL(f, fd_count(&f->fd, NULL) == 0 && task_table_idle(&f->tt));
}

/* A start event can be lost (the stream reconnecting); a die that comes before the start's
 * reply then finds the container still "starting". */
static void test_die_before_the_start_reply_is_not_counted_running(void **state)
{
	struct fx *f = *state;
	struct task *t = add_task(f, "web", 0);
	start(f);
	f->auto_sync = true;
	f->fd.hold[FD_START] = true;
	t->demand = 1;
	RUN_UNTIL(f, f->fd.held[FD_START] == 1);
	f->fd.hold[FD_START] = false;
	fd_exit(&f->fd, only_container(f), 127, false); /* ran and died, its start event lost */
	run_for(f, 30);
	f->fd.status[FD_START] = 204; /* the reply comes last and changes nothing */
	fd_release(&f->fd, FD_START);
	f->fd.status[FD_START] = 0;
	RUN_UNTIL(f, f->fd.deleted_ids == 1 && f->fd.requests[FD_CREATE] == 2 && t->running == 1 &&
			     !task_settling(t));
}

static void test_create_answered_after_the_demand_dropped_is_removed_unstarted(void **state)
{
	struct fx *f = *state;
	struct task *t = add_task(f, "web", 0);
	start(f);
	f->auto_sync = true;
	t->demand = 1; /* one started container opens the create window to two */
	RUN_UNTIL(f, t->running == 1 && !task_settling(t));
	f->fd.hold[FD_CREATE] = true;
	t->demand = 3;
	RUN_UNTIL(f, f->fd.held[FD_CREATE] == 2);
	t->demand = 2; /* one of the two is no longer wanted (a drain: both) */
	/* A tick before the replies (as on a slow machine): it must leave the excess to the create
	 * in flight, not stop the running container in its place. */
	f->sched->ops->sync(f->sched);
	f->fd.hold[FD_CREATE] = false;
	fd_release(&f->fd, FD_CREATE);
	RUN_UNTIL(f, t->running == 2 && !task_settling(t));
	assert_int_equal(f->fd.requests[FD_START], 2);
	assert_int_equal(f->fd.requests[FD_STOP], 0); /* nothing ran only to be stopped */
	assert_int_equal(f->fd.deleted_ids, 1);
	assert_int_equal(fd_count(&f->fd, NULL), 2);
}

/* Creates start one at a time and widen by one per container started: a lone create is served
 * fastest, so the first container runs soonest; the window then grows to the cap. */
static void test_creates_start_one_at_a_time_and_widen_per_container_started(void **state)
{
	struct fx *f = *state;
	struct task *t = add_task(f, "web", 0);
	start(f);
	f->auto_sync = true;
	f->fd.hold[FD_CREATE] = true;
	t->demand = 6;
	run_for(f, 50);
	assert_int_equal(f->fd.held[FD_CREATE], 1);
	f->fd.hold[FD_CREATE] = false;
	fd_release(&f->fd, FD_CREATE);
	RUN_UNTIL(f, t->running == 6 && !task_settling(t));
	assert_int_equal(f->fd.requests[FD_CREATE], 6);
}

/* An owned container of a task the config does not have is left alone and reported once, not at
 * every reconcile; reported again only if it goes away and another one appears. */
static void test_container_of_an_unknown_task_is_reported_once_and_never_touched(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	log_setup(LOG_FMT_LOGFMT, NULL, out);
	f->s.reconcile_ms = 20;
	struct fd_container *orphan = fd_add(&f->fd, "retired", OWNER, "running");
	add_task(f, "web", 0);
	start(f);
	f->auto_sync = true;
	run_for(f, 300); /* about fifteen reconciles */
	fflush(out);
	int reports = 0;
	for (const char *p = buf; (p = strstr(p, "unknown task left alone")); p++)
		reports++;
	assert_int_equal(reports, 1);
	assert_int_equal(fd_count(&f->fd, "running"), 1); /* never stopped or removed */
	fd_remove(&f->fd, orphan);
	fd_add(&f->fd, "retired", OWNER, "running");
	run_for(f, 100);
	fflush(out);
	reports = 0;
	for (const char *p = buf; (p = strstr(p, "unknown task left alone")); p++)
		reports++;
	assert_int_equal(reports, 2);
	log_setup(LOG_FMT_LOGFMT, NULL, NULL);
	fclose(out);
	free(buf);
}

/* curl reports a unix socket it cannot open as a refused TCP connection to localhost:80; the
 * error line names the socket and the system's reason instead (here: it does not exist). */
static void test_unreachable_socket_is_named_with_its_reason(void **state)
{
	struct fx *f = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	log_setup(LOG_FMT_LOGFMT, NULL, out);
	f->s.docker_host = "unix:///nonexistent/docker.sock";
	struct err e = ERR_INIT;
	f->sched = scheduler_new("DOCKER", &f->loop, &f->tt, &f->s, &e);
	assert_non_null(f->sched);
	f->sched->on_counts = on_counts;
	f->sched->core = f;
	assert_int_equal(f->sched->ops->start(f->sched, &e), 0);
	RUN_UNTIL(f, (fflush(out), buf && strstr(buf, "engine unreachable")));
	assert_non_null(strstr(buf, "(/nonexistent/docker.sock: No such file or directory)"));
	assert_false(f->sched->ready);
	log_setup(LOG_FMT_LOGFMT, NULL, NULL);
	fclose(out);
	free(buf);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the fake engine may write to a connection curl closed */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_container_of_an_unknown_task_is_reported_once_and_never_touched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreachable_socket_is_named_with_its_reason, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_creates_start_one_at_a_time_and_widen_per_container_started, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopts_owned_containers_and_scales_to_demand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_reached_inside_an_event_closes_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_lost_while_connecting_keeps_one_event_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_taken_before_a_create_keeps_the_new_container, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_taken_before_a_start_keeps_the_started_container, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_taken_before_a_removal_adopts_no_ghost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_policy_container_the_engine_gives_up_on_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_policy_container_being_restarted_is_left_to_the_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_down_removes_a_container_waiting_for_its_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_die_before_the_start_reply_is_not_counted_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_answered_after_the_demand_dropped_is_removed_unstarted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
