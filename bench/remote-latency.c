/* Remote demand latency: the time from a demand frame leaving the server to the scheduler's first
 * action, over 1000 frames, with bin/microscaler (SERVER engine, toy scheduler) as a child process.
 * The bench is the server (libwebsockets on its own libuv loop): it stamps each frame just before
 * lws_write and stamps the agent's "msg=start"/"msg=stop" log line when it reads it from the
 * child's stdout, so the figure includes the pipe back (an upper bound). Frames alternate
 * web=1 / web=2, each one action, sent 5 ms after the previous action was seen.
 *   BENCH_REMOTE_FRAMES (default 1000), MSS_BIN (default bin/microscaler). */
#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "utils/util.h"

#define GAP_MS     5    /* after an action, before the next frame */
#define TIMEOUT_MS 1000 /* a frame with no action by then counts as missed */
#define TARGET_P99_MS 5.0

static struct {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct lws *agent;
	uv_process_t child;
	uv_pipe_t out;
	char line[8192];
	size_t line_len;
	uv_timer_t timer;
	int frames, sent, missed, got;
	double *lat_ms;
	uint64_t t_send;
	bool waiting, pending_write, done, child_exited;
	int64_t child_status;
} B;

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

static void next_frame(void);
static void finish(void);

static void on_gap(uv_timer_t *t)
{
	next_frame();
}

static void on_timeout(uv_timer_t *t)
{
	B.missed++;
	B.waiting = false;
	next_frame();
}

static void next_frame(void)
{
	if (B.sent >= B.frames) {
		finish();
		return;
	}
	B.pending_write = true;
	lws_callback_on_writable(B.agent);
}

/* A line of the agent's log: its first scheduler action after our frame stops the clock. */
static void on_agent_line(const char *l)
{
	if (!B.waiting)
		return;
	if (!strstr(l, "comp=scheduler msg=start ") && !strstr(l, "comp=scheduler msg=stop "))
		return;
	uint64_t t = now_ns();
	B.waiting = false;
	B.lat_ms[B.got++] = (double)(t - B.t_send) / 1e6;
	uv_timer_start(&B.timer, on_gap, GAP_MS, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = B.line + B.line_len;
	buf->len = sizeof B.line - B.line_len - 1;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0) {
		uv_close((uv_handle_t *)s, NULL);
		return;
	}
	B.line_len += (size_t)n;
	B.line[B.line_len] = '\0';
	char *start = B.line, *nl;
	while ((nl = strchr(start, '\n'))) {
		*nl = '\0';
		on_agent_line(start);
		start = nl + 1;
	}
	B.line_len -= (size_t)(start - B.line);
	memmove(B.line, start, B.line_len);
	if (B.line_len == sizeof B.line - 1)
		B.line_len = 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		if (!B.agent) {
			B.agent = wsi;
			/* Let the agent finish starting (adoption, first tick) before timing. */
			uv_timer_start(&B.timer, on_gap, 300, 0);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		if (wsi != B.agent || !B.pending_write)
			break;
		B.pending_write = false;
		unsigned char buf[LWS_PRE + 128];
		int n = snprintf((char *)buf + LWS_PRE, 128,
				 "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":%d}]}}",
				 B.sent % 2 == 0 ? 1 : 2);
		B.sent++;
		B.waiting = true;
		B.t_send = now_ns();
		if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
			return -1;
		uv_timer_start(&B.timer, on_timeout, TIMEOUT_MS, 0);
		break;
	}
	case LWS_CALLBACK_CLOSED:
		if (wsi == B.agent) {
			B.agent = NULL;
			if (!B.done) {
				fprintf(stderr, "remote-latency: the agent disconnected\n");
				finish();
			}
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[] = {
    {"bench", callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
	B.child_exited = true;
	B.child_status = sig ? 128 + sig : status;
	uv_close((uv_handle_t *)p, NULL);
}

static void finish(void)
{
	if (B.done)
		return;
	B.done = true;
	uv_timer_stop(&B.timer);
	uv_close((uv_handle_t *)&B.timer, NULL);
	if (!B.child_exited)
		uv_process_kill(&B.child, SIGTERM);
	lws_context_destroy(B.ctx); /* first destroy; the second after the loop drained */
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
	if (n <= 0)
		return 0;
	int i = (int)(p / 100.0 * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

int main(void)
{
	const char *fr = getenv("BENCH_REMOTE_FRAMES");
	B.frames = fr && *fr ? atoi(fr) : 1000;
	if (B.frames < 10)
		B.frames = 10;
	const char *bin = getenv("MSS_BIN");
	if (!bin || !*bin)
		bin = "bin/microscaler";
	B.lat_ms = xcalloc((size_t)B.frames, sizeof *B.lat_ms);
	signal(SIGPIPE, SIG_IGN);
	B.loop = uv_default_loop();
	lws_set_log_level(LLL_ERR, NULL);

	void *loops[1] = {B.loop};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = loops;
	info.pcontext = &B.ctx;
	info.fd_limit_per_thread = 64;
	B.ctx = lws_create_context(&info);
	if (!B.ctx) {
		fprintf(stderr, "remote-latency: cannot create the server\n");
		return 1;
	}
	int port = lws_get_vhost_listen_port(lws_get_vhost_by_name(B.ctx, "default"));
	uv_timer_init(B.loop, &B.timer);

	char addr[64], path[4096];
	snprintf(addr, sizeof addr, "MSS_API_ADDRESS=127.0.0.1:%d", port);
	snprintf(path, sizeof path, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char config[] = "MSS_CONFIG_DATA={\"maxContainers\":10,\"apps\":[{\"name\":\"web\","
			"\"priority\":1,\"minContainers\":0,\"maxContainers\":10}]}";
	char *env[] = {
	    path,
	    addr,
	    "MSS_SCHEDULER=TOY",
	    "MSS_DEMAND_ENGINE=SERVER",
	    "MSS_MONITOR=none",
	    "MSS_CONFIG=ENVVAR",
	    config,
	    "MSS_TOY_START_MS=1",
	    "MSS_TOY_STOP_MS=1",
	    NULL,
	};
	char *args[] = {(char *)bin, NULL};
	uv_pipe_init(B.loop, &B.out, 0);
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE},
	    {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&B.out},
	    {.flags = UV_INHERIT_FD, .data.fd = 2},
	};
	uv_process_options_t po = {
	    .exit_cb = on_child_exit,
	    .file = bin,
	    .args = args,
	    .env = env,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	int rc = uv_spawn(B.loop, &B.child, &po);
	if (rc != 0) {
		fprintf(stderr, "remote-latency: cannot start %s: %s (run `make` first)\n", bin,
			uv_strerror(rc));
		return 1;
	}
	uv_read_start((uv_stream_t *)&B.out, on_alloc, on_read);

	uv_run(B.loop, UV_RUN_DEFAULT);
	if (B.ctx)
		lws_context_destroy(B.ctx);
	uv_loop_close(B.loop);

	int got = B.got;
	qsort(B.lat_ms, (size_t)got, sizeof *B.lat_ms, cmp_double);
	double p50 = pct(B.lat_ms, got, 50), p90 = pct(B.lat_ms, got, 90),
	       p99 = pct(B.lat_ms, got, 99), max = got ? B.lat_ms[got - 1] : 0;
	const char *dir = getenv("BENCH_OUT");
	char mdpath[1024];
	snprintf(mdpath, sizeof mdpath, "%s/remote-latency.md", dir && *dir ? dir : "bench/results");
	FILE *md = fopen(mdpath, "w");
	FILE *outs[] = {stdout, md};
	for (size_t o = 0; o < ARRAY_LEN(outs); o++) {
		if (!outs[o])
			continue;
		fprintf(outs[o],
			"| frames | missed | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | agent exit |\n"
			"|---|---|---|---|---|---|---|\n"
			"| %d | %d | %.3f | %.3f | %.3f | %.3f | %lld |\n",
			B.sent, B.missed, p50, p90, p99, max, (long long)B.child_status);
	}
	if (md)
		fclose(md);
	const char *rows = getenv("MSS_BENCH_ROWS");
	FILE *f = rows && *rows ? fopen(rows, "a") : NULL;
	if (f) {
		fprintf(f,
			"| remote-latency | demand frame → first toy scheduler action, %d frames: p50 / "
			"p99 | %.2f / %.2f ms | p99 < %.0f ms |\n",
			B.sent, p50, p99, TARGET_P99_MS);
		fclose(f);
	}
	free(B.lat_ms);
	bool ok = B.sent == B.frames && B.missed == 0 && p99 < TARGET_P99_MS && B.child_status == 0;
	if (!ok)
		fprintf(stderr, "remote-latency: %s\n",
			B.missed || B.sent < B.frames ? "frames without an action"
			: p99 >= TARGET_P99_MS         ? "p99 above the target"
						       : "the agent did not exit 0");
	return ok ? 0 : 1;
}
