/* microscaler-demand-server: a reference API server for the websocket protocol. It accepts agents,
 * prints their metrics frames, sends them demand typed on stdin or read from a script, and serves
 * the apps JSON at /apps/<user>. For driving agents by hand, and for the tests. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <libwebsockets.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "utils/util.h"

#define MAX_MESSAGE (64u << 20) /* inbound cap; the server is a test tool, not a target */

static const char usage_text[] =
    "usage: microscaler-demand-server [options]\n"
    "  --port N         listen port (default 8081; 0 = any free port, printed)\n"
    "  --iface ADDR     listen address (default 127.0.0.1)\n"
    "  --apps FILE      answer GET /apps/<user> with this JSON file (else 404)\n"
    "  --apps-fail N    answer the first N /apps requests with 503\n"
    "  --script FILE    run these commands once the first agent connects\n"
    "  --token T        require 'Authorization: Bearer T' (else 401 / refused upgrade)\n"
    "  --cert F --key F TLS (wss:// and https://) with this PEM certificate and key\n"
    "  --refuse         refuse every websocket upgrade (counts connection attempts)\n"
    "  --no-replay      do not send the last demand to an agent that (re)connects\n"
    "  --once           exit when the first agent disconnects\n"
    "  --ts             prefix each metrics frame with milliseconds since start\n"
    "  --quiet          do not print metrics frames\n"
    "Commands (stdin, one per line, or the script):\n"
    "  web=3 worker=0   send {\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":3},...]}}\n"
    "                   (a value that is not JSON is sent as a string: web=abc)\n"
    "  {...}            send the line as is (any text)\n"
    "  @FILE            send the file's contents as one message\n"
    "  +500ms CMD       wait (ms or s) before CMD; '+2s' alone just waits\n"
    "  close            close every agent connection (code 1001)\n"
    "  quit             exit\n"
    "stdout: one metrics frame per line. stderr: events, one line each (event=...).\n";

struct msg {
	struct msg *next;
	size_t len;
	unsigned char *buf; /* LWS_PRE + len */
};

/* Per connection: an agent (websocket) or one HTTP request. */
struct pss {
	int id;
	bool agent;
	struct pss *next;        /* agents list */
	struct lws *wsi;
	char *rx;                /* inbound message being reassembled */
	size_t rx_len, rx_cap;
	bool rx_in, rx_drop;
	struct msg *out, *out_tail;
	bool closing;
	char *http_body;         /* HTTP response body to write */
	size_t http_len;
};

static struct {
	uv_loop_t *loop;
	struct lws_context *ctx;
	int port;
	const char *iface, *apps_file, *script_file, *token, *cert, *key;
	int apps_fail;
	bool refuse, replay, once, ts, quiet;
	struct pss *agents;
	int next_id, connected_ever;
	char *last_demand; /* the last app=count frame, for agents that connect later */
	uint64_t start_ms;
	unsigned upgrades;
	/* script */
	char **lines;
	size_t nlines, pos;
	bool script_started;
	uv_timer_t script_timer;
	/* stdin */
	uv_pipe_t in_pipe;
	uv_tty_t in_tty;
	uv_stream_t *in;
	char inbuf[1 << 16];
	size_t inlen;
	uv_signal_t sig_int, sig_term;
	bool stopping;
	int exit_code;
} S;

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void event(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "t_ms=%llu ", (unsigned long long)(now_ms() - S.start_ms));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void stop(int code);

/* ---- outgoing ------------------------------------------------------------------------------ */

static void queue_to(struct pss *p, const char *data, size_t len)
{
	struct msg *m = xcalloc(1, sizeof *m);
	m->buf = xmalloc(LWS_PRE + len + 1);
	memcpy(m->buf + LWS_PRE, data, len);
	m->len = len;
	if (p->out_tail)
		p->out_tail->next = m;
	else
		p->out = m;
	p->out_tail = m;
	lws_callback_on_writable(p->wsi);
}

static void broadcast(const char *data, size_t len, const char *kind)
{
	int n = 0;
	for (struct pss *p = S.agents; p; p = p->next, n++)
		queue_to(p, data, len);
	event("event=send kind=%s bytes=%zu agents=%d", kind, len, n);
}

static void free_queue(struct pss *p)
{
	while (p->out) {
		struct msg *m = p->out;
		p->out = m->next;
		free(m->buf);
		free(m);
	}
	p->out_tail = NULL;
}

/* ---- commands ------------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = xmalloc(cap);
	size_t r;
	while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 == cap) {
			cap *= 2;
			b = xrealloc(b, cap);
		}
	}
	fclose(f);
	b[n] = '\0';
	*len = n;
	return b;
}

/* "web=3 worker=0" -> a demand frame; NULL if a word has no '='. */
static char *demand_frame(const char *line)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *tasks = cJSON_AddArrayToObject(cJSON_AddObjectToObject(root, "demand"), "tasks");
	char *copy = xstrdup(line), *save = NULL;
	bool ok = true;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(w, '=');
		if (!eq || eq == w) {
			ok = false;
			break;
		}
		*eq = '\0';
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "app", w);
		cJSON *v = cJSON_Parse(eq + 1);
		cJSON_AddItemToObject(o, "demandCount", v ? v : cJSON_CreateString(eq + 1));
		cJSON_AddItemToArray(tasks, o);
	}
	free(copy);
	char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	return s;
}

/* Run one command line (after any +delay). */
static void run_command(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return;
	if (strcmp(line, "quit") == 0) {
		stop(0);
		return;
	}
	if (strcmp(line, "close") == 0) {
		for (struct pss *p = S.agents; p; p = p->next) {
			p->closing = true;
			lws_callback_on_writable(p->wsi);
		}
		event("event=close agents=all");
		return;
	}
	if (*line == '@') {
		size_t len = 0;
		char *b = read_file(line + 1, &len);
		if (!b) {
			event("event=error what=\"cannot read %s: %s\"", line + 1, strerror(errno));
			return;
		}
		broadcast(b, len, "file");
		free(b);
		return;
	}
	if (*line == '{' || *line == '[' || *line == '"') {
		broadcast(line, strlen(line), "raw");
		return;
	}
	char *frame = demand_frame(line);
	if (!frame) {
		event("event=error what=\"not a command: %s\"", line);
		return;
	}
	free(S.last_demand);
	S.last_demand = frame;
	broadcast(frame, strlen(frame), "demand");
}

/* "+500ms rest" -> delay 500, *rest; 0 when there is no delay prefix. -1 on a bad one. */
static long parse_delay(const char *line, const char **rest)
{
	*rest = line;
	while (**rest == ' ' || **rest == '\t')
		(*rest)++;
	if (**rest != '+')
		return 0;
	char *end;
	double v = strtod(*rest + 1, &end);
	double mult;
	if (strncmp(end, "ms", 2) == 0) {
		mult = 1;
		end += 2;
	} else if (*end == 's') {
		mult = 1000;
		end += 1;
	} else {
		return -1;
	}
	if (v < 0 || (*end && *end != ' ' && *end != '\t'))
		return -1;
	*rest = end;
	return (long)(v * mult + 0.5);
}

static void script_next(void);

static void on_script_timer(uv_timer_t *t)
{
	const char *rest;
	parse_delay(S.lines[S.pos], &rest);
	run_command(rest);
	S.pos++;
	script_next();
}

static void script_next(void)
{
	while (S.pos < S.nlines && !S.stopping) {
		const char *rest;
		long d = parse_delay(S.lines[S.pos], &rest);
		if (d < 0) {
			event("event=error what=\"bad delay in script line %zu\"", S.pos + 1);
			S.pos++;
			continue;
		}
		if (d > 0) {
			uv_timer_start(&S.script_timer, on_script_timer, (uint64_t)d, 0);
			return;
		}
		run_command(rest);
		S.pos++;
	}
	if (S.pos >= S.nlines && S.nlines)
		event("event=script_done");
}

static int load_script(const char *path)
{
	size_t len;
	char *b = read_file(path, &len);
	if (!b) {
		fprintf(stderr, "microscaler-demand-server: cannot read %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	char *save = NULL;
	for (char *l = strtok_r(b, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(l);
		if (n && l[n - 1] == '\r')
			l[n - 1] = '\0';
		S.lines = xrealloc(S.lines, (S.nlines + 1) * sizeof *S.lines);
		S.lines[S.nlines++] = xstrdup(l);
	}
	free(b);
	return 0;
}

/* stdin: commands run as they arrive; a +delay there just delays that one line. */
struct delayed {
	uv_timer_t timer;
	char *cmd;
};

static void on_delayed_closed(uv_handle_t *h)
{
	struct delayed *d = h->data;
	free(d->cmd);
	free(d);
}

static void on_delayed(uv_timer_t *t)
{
	struct delayed *d = t->data;
	if (!S.stopping)
		run_command(d->cmd);
	uv_close((uv_handle_t *)t, on_delayed_closed);
}

static void stdin_line(char *line)
{
	size_t n = strlen(line);
	if (n && line[n - 1] == '\r')
		line[n - 1] = '\0';
	const char *rest;
	long d = parse_delay(line, &rest);
	if (d < 0) {
		event("event=error what=\"bad delay\"");
		return;
	}
	if (d == 0) {
		run_command(rest);
		return;
	}
	struct delayed *x = xcalloc(1, sizeof *x);
	x->cmd = xstrdup(rest);
	uv_timer_init(S.loop, &x->timer);
	x->timer.data = x;
	uv_timer_start(&x->timer, on_delayed, (uint64_t)d, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = S.inbuf + S.inlen;
	buf->len = sizeof S.inbuf - S.inlen - 1;
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0) {
		uv_read_stop(s);
		uv_close((uv_handle_t *)s, NULL);
		S.in = NULL;
		return;
	}
	S.inlen += (size_t)n;
	S.inbuf[S.inlen] = '\0';
	char *start = S.inbuf, *nl;
	while ((nl = strchr(start, '\n'))) {
		*nl = '\0';
		stdin_line(start);
		start = nl + 1;
	}
	S.inlen -= (size_t)(start - S.inbuf);
	memmove(S.inbuf, start, S.inlen);
	if (S.inlen == sizeof S.inbuf - 1) /* a line longer than the buffer: dropped */
		S.inlen = 0;
}

static void open_stdin(void)
{
	uv_handle_type t = uv_guess_handle(0);
	if (t == UV_TTY) {
		uv_tty_init(S.loop, &S.in_tty, 0, 1);
		S.in = (uv_stream_t *)&S.in_tty;
	} else if (t == UV_NAMED_PIPE || t == UV_TCP) {
		uv_pipe_init(S.loop, &S.in_pipe, 0);
		if (uv_pipe_open(&S.in_pipe, 0) != 0) {
			uv_close((uv_handle_t *)&S.in_pipe, NULL);
			return;
		}
		S.in = (uv_stream_t *)&S.in_pipe;
	} else {
		return; /* a file or /dev/null: no commands from stdin */
	}
	uv_read_start(S.in, on_alloc, on_stdin);
}

/* ---- lws ------------------------------------------------------------------------------------ */

static bool authorized(struct lws *wsi)
{
	if (!S.token)
		return true;
	char got[512];
	if (lws_hdr_copy(wsi, got, sizeof got, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0)
		return false;
	char want[512];
	snprintf(want, sizeof want, "Bearer %s", S.token);
	return strcmp(got, want) == 0;
}

static void agent_gone(struct pss *p)
{
	for (struct pss **q = &S.agents; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			break;
		}
	free_queue(p);
	free(p->rx);
	p->rx = NULL;
	event("event=disconnected id=%d", p->id);
	if (S.once)
		stop(0);
}

static void agent_rx(struct pss *p, struct lws *wsi, const char *in, size_t len)
{
	if (!p->rx_in) {
		p->rx_in = true;
		p->rx_len = 0;
		p->rx_drop = false;
	}
	if (!p->rx_drop) {
		if (p->rx_len + len > MAX_MESSAGE) {
			p->rx_drop = true;
		} else {
			if (p->rx_len + len + 1 > p->rx_cap) {
				p->rx_cap = (p->rx_len + len + 1) * 2;
				p->rx = xrealloc(p->rx, p->rx_cap);
			}
			memcpy(p->rx + p->rx_len, in, len);
			p->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return;
	p->rx_in = false;
	if (p->rx_drop || S.quiet)
		return;
	if (S.ts)
		printf("%llu ", (unsigned long long)(now_ms() - S.start_ms));
	fwrite(p->rx ? p->rx : "", 1, p->rx_len, stdout);
	putchar('\n');
	fflush(stdout);
}

static int http_answer(struct lws *wsi, struct pss *p, unsigned status, char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *q = start,
					   *end = hdr + sizeof hdr - 1;
	p->http_body = body;
	p->http_len = len;
	if (lws_add_http_common_headers(wsi, status, "application/json", len, &q, end) ||
	    lws_finalize_write_http_header(wsi, start, &q, end))
		return 1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int on_http(struct lws *wsi, struct pss *p, const char *path)
{
	static int apps_requests;
	unsigned status = 200;
	char *body = NULL;
	size_t len = 0;
	if (!authorized(wsi)) {
		status = 401;
	} else if (strncmp(path, "/apps/", 6) == 0 && S.apps_file) {
		if (apps_requests++ < S.apps_fail)
			status = 503;
		else if (!(body = read_file(S.apps_file, &len)))
			status = 500;
	} else {
		status = 404;
	}
	if (!body) {
		const char *why = status == 401   ? "missing or wrong bearer token"
				  : status == 404 ? "not found (serve apps with --apps FILE)"
				  : status == 503 ? "unavailable (--apps-fail)"
						  : "cannot read the apps file";
		char tmp[128];
		len = (size_t)snprintf(tmp, sizeof tmp, "{\"message\":\"%s\"}", why);
		body = xstrdup(tmp);
	}
	event("event=http path=%s status=%u bytes=%zu", path, status, len);
	return http_answer(wsi, p, status, body, len);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct pss *p = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, p, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if (!p || !p->http_body)
			break;
		unsigned char *b = xmalloc(LWS_PRE + p->http_len + 1);
		memcpy(b + LWS_PRE, p->http_body, p->http_len);
		int n = lws_write(wsi, b + LWS_PRE, p->http_len, LWS_WRITE_HTTP_FINAL);
		free(b);
		free(p->http_body);
		p->http_body = NULL;
		if (n < 0 || lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
		if (p) {
			free(p->http_body);
			p->http_body = NULL;
		}
		break;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char origin[128] = "", peer[64] = "";
		S.upgrades++;
		lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN);
		lws_get_peer_simple(wsi, peer, sizeof peer);
		bool auth = authorized(wsi);
		event("event=upgrade n=%u peer=%s origin=%s auth=%s%s", S.upgrades, peer, origin,
		      auth ? "ok" : "refused", S.refuse ? " refused=1" : "");
		return S.refuse || !auth ? 1 : 0;
	}
	case LWS_CALLBACK_ESTABLISHED: {
		memset(p, 0, sizeof *p);
		p->agent = true;
		p->wsi = wsi;
		p->id = ++S.next_id;
		p->next = S.agents;
		S.agents = p;
		char path[256] = "";
		lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
		event("event=connected id=%d path=%s", p->id, path);
		if (S.replay && S.last_demand)
			queue_to(p, S.last_demand, strlen(S.last_demand));
		if (!S.script_started && S.nlines) {
			S.script_started = true;
			script_next();
		}
		break;
	}
	case LWS_CALLBACK_RECEIVE:
		if (p && p->agent)
			agent_rx(p, wsi, in, len);
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		if (!p || !p->agent)
			break;
		if (p->closing) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"bye", 3);
			return -1;
		}
		struct msg *m = p->out;
		if (!m)
			break;
		p->out = m->next;
		if (!p->out)
			p->out_tail = NULL;
		int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		free(m->buf);
		free(m);
		if (n < 0)
			return -1;
		if (p->out)
			lws_callback_on_writable(wsi);
		break;
	}
	case LWS_CALLBACK_CLOSED:
		if (p && p->agent)
			agent_gone(p);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols protocols[] = {
    {"microscaler-demand", callback, sizeof(struct pss), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_lws_log(int level, const char *line)
{
	if (level & LLL_ERR)
		fprintf(stderr, "event=lws_error line=\"%.*s\"\n", (int)strcspn(line, "\n"), line);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop(int code)
{
	if (S.stopping)
		return;
	S.stopping = true;
	S.exit_code = code;
	event("event=stopping");
	uv_timer_stop(&S.script_timer);
	uv_close((uv_handle_t *)&S.script_timer, NULL);
	uv_close((uv_handle_t *)&S.sig_int, NULL);
	uv_close((uv_handle_t *)&S.sig_term, NULL);
	if (S.in) {
		uv_read_stop(S.in);
		uv_close((uv_handle_t *)S.in, NULL);
		S.in = NULL;
	}
	lws_context_destroy(S.ctx); /* the first of the two destroys; the loop drains after */
}

static void on_signal(uv_signal_t *s, int sig)
{
	stop(0);
}

int main(int argc, char **argv)
{
	S.port = 8081;
	S.iface = "127.0.0.1";
	S.replay = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
		if (ARG("--port"))
			S.port = atoi(v);
		else if (ARG("--iface"))
			S.iface = v;
		else if (ARG("--apps"))
			S.apps_file = v;
		else if (ARG("--apps-fail"))
			S.apps_fail = atoi(v);
		else if (ARG("--script"))
			S.script_file = v;
		else if (ARG("--token"))
			S.token = v;
		else if (ARG("--cert"))
			S.cert = v;
		else if (ARG("--key"))
			S.key = v;
		else if (strcmp(a, "--refuse") == 0)
			S.refuse = true;
		else if (strcmp(a, "--no-replay") == 0)
			S.replay = false;
		else if (strcmp(a, "--once") == 0)
			S.once = true;
		else if (strcmp(a, "--ts") == 0)
			S.ts = true;
		else if (strcmp(a, "--quiet") == 0)
			S.quiet = true;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			fprintf(stderr, "microscaler-demand-server: bad argument '%s'\n%s", a,
				usage_text);
			return 2;
		}
#undef ARG
	}
	if ((S.cert == NULL) != (S.key == NULL)) {
		fprintf(stderr, "microscaler-demand-server: --cert and --key go together\n");
		return 2;
	}
	if (S.script_file && load_script(S.script_file) != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	S.loop = uv_default_loop();
	S.start_ms = now_ms();
	lws_set_log_level(LLL_ERR, on_lws_log);

	void *loops[1] = {S.loop};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = S.port;
	info.iface = S.iface;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBUV;
	/* lws 4.1 binds an IPv6 socket on every interface even when told 127.0.0.1: an IPv4 address
	 * gets an IPv4 socket, so the listener really is on that address only. */
	unsigned char a4[4];
	if (inet_pton(AF_INET, S.iface, a4) == 1)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = loops;
	info.pcontext = &S.ctx;
	info.fd_limit_per_thread = 1024;
	if (S.cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = S.cert;
		info.ssl_private_key_filepath = S.key;
	}
	S.ctx = lws_create_context(&info);
	if (!S.ctx) {
		fprintf(stderr, "microscaler-demand-server: cannot listen on %s:%d\n", S.iface, S.port);
		return 1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(S.ctx, "default");
	int port = vh ? lws_get_vhost_listen_port(vh) : S.port;
	event("event=listening iface=%s port=%d tls=%d refuse=%d", S.iface, port, S.cert != NULL,
	      S.refuse);

	uv_timer_init(S.loop, &S.script_timer);
	uv_signal_init(S.loop, &S.sig_int);
	uv_signal_init(S.loop, &S.sig_term);
	uv_signal_start(&S.sig_int, on_signal, SIGINT);
	uv_signal_start(&S.sig_term, on_signal, SIGTERM);
	open_stdin();

	uv_run(S.loop, UV_RUN_DEFAULT);
	/* The loop drained after the first destroy: the second frees the context. */
	if (S.ctx)
		lws_context_destroy(S.ctx);
	uv_walk(S.loop, close_walk, NULL);
	uv_run(S.loop, UV_RUN_DEFAULT);
	uv_loop_close(S.loop);
	for (size_t i = 0; i < S.nlines; i++)
		free(S.lines[i]);
	free(S.lines);
	free(S.last_demand);
	return S.exit_code;
}
