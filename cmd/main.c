/* microscaler: command line, settings, and the exit status contract (0 clean, 1 drain not clean,
 * 2 bad configuration). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "../demand/config.h"
#include "../utils/http.h"
#include "../utils/log.h"
#include "../utils/settings.h"
#include "agent.h"

#define EXIT_BAD_CONFIG 2

static void usage(FILE *out)
{
	fprintf(out, "usage: microscaler [--help | --version | --check-config]\n"
		     "All configuration comes from the environment:\n\n");
	settings_print_help(out);
}

static void close_handle(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Load and validate everything a start would, print the task table, touch nothing outside. */
static int check_config(const struct settings *s)
{
	struct err e = ERR_INIT;
	struct agent a;
	uv_loop_t loop;
	uv_loop_init(&loop);
	int rc = agent_init(&a, &loop, s, &e);
	if (rc != 0) {
		fprintf(stderr, "microscaler: %s\n", e.msg);
		uv_loop_close(&loop);
		return EXIT_BAD_CONFIG;
	}
	if (a.config_pending) {
		/* MSS_CONFIG=SERVER: fetch it once (no retries), then stop. */
		a.check_only = true;
		if (agent_run(&a) != 0) {
			agent_free(&a);
			uv_loop_close(&loop);
			return EXIT_BAD_CONFIG;
		}
	}
	printf("config ok: scheduler=%s engine=%s config=%s monitor=%s\n", s->scheduler, s->engine,
	       s->config, s->monitor);
	config_print_table(&a.tasks, stdout);
	/* agent_init initialised timers and signal handles: close them before freeing. */
	uv_walk(&loop, close_handle, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	agent_free(&a);
	uv_loop_close(&loop);
	return 0;
}

int main(int argc, char **argv)
{
	/* A closed stdout (a log shipper that died) or a peer that hung up must give EPIPE, not kill
	 * the process: a dead scaler leaves its containers unmanaged. */
	signal(SIGPIPE, SIG_IGN);
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("microscaler %s (%s)\n", MSS_VERSION, MSS_GIT_REV);
			return 0;
		} else if (strcmp(argv[i], "--check-config") == 0) {
			check = true;
		} else {
			fprintf(stderr, "microscaler: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_BAD_CONFIG;
		}
	}
	struct settings s;
	struct err e = ERR_INIT;
	if (settings_load(&s, &e) != 0) {
		fprintf(stderr, "microscaler: %s\n", e.msg);
		return EXIT_BAD_CONFIG;
	}
	/* --check-config prints the table on stdout: its log lines go to stderr. */
	log_setup(s.log_format, s.log_debug, check ? stderr : stdout);
	if (http_global_init(&e) != 0) {
		fprintf(stderr, "microscaler: %s\n", e.msg);
		return 1;
	}
	if (check)
		return check_config(&s);

	uv_loop_t *loop = uv_default_loop();
	struct agent a;
	if (agent_init(&a, loop, &s, &e) != 0) {
		log_error("agent", "bad configuration", LOG_S("error", e.msg));
		fprintf(stderr, "microscaler: %s\n", e.msg);
		return EXIT_BAD_CONFIG;
	}
	int status = agent_run(&a);
	agent_free(&a);
	uv_loop_close(loop);
	return status;
}
