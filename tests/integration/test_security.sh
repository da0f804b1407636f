#!/usr/bin/env bash
# The claims of docs/security.md, each checked: secrets never in the logs (every level, both
# formats), what leaves the agent for the API server and metric sources, the HTTP API's tokens
# and limits (big or many headers, bad methods, slow and flooding clients), wss failing closed on
# a bad certificate, the image's non-root user; and against a private dockerd: look-alike labels
# never touched, the agent's environment never reaching a container (every config form), and the
# agent working through the allow-list socket proxy (tests/integration/socket_proxy.py) that
# refuses everything else.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-sec.XXXXXX)
[ -n "${KEEP:-}" ] && echo "# keeping $T" || on_exit "rm -rf $T"
HERE="$ROOT/tests/integration"
SRV="$ROOT/bin/microscaler-demand-server"
SECONDS=0
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listening_port() { sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$1" | head -1; }
stop_agent() { # stop_agent PID: SIGTERM, wait up to 30 s; sets EXIT_STATUS
	kill -TERM "$1" 2>/dev/null
	wait_exit "$1" 30 || { EXIT_STATUS=timeout; kill -9 "$1"; }
}

# Servers on loopback: what the agent talks to.
mkfifo "$T/cmd"
exec 3<>"$T/cmd"
send() { printf '%s\n' "$*" >&3; }
srv_start() { # srv_start NAME [ARGS...]: a demand server on a free port; sets PORT, SRV_PID
	local name=$1; shift
	"$SRV" --port 0 --ts "$@" <&3 >"$T/$name.out" 2>"$T/$name.err" &
	SRV_PID=$!
	disown "$SRV_PID" # killed on purpose: no job-control noise
	on_exit "kill -9 $SRV_PID 2>/dev/null"
	wait_for 5 grep -q 'event=listening' "$T/$name.err" || return 1
	PORT=$(sed -n 's/.*event=listening.* port=\([0-9]*\).*/\1/p' "$T/$name.err")
}
python3 "$HERE/capture_http.py" "$T/cap.port" "$T/cap.log" &
CAP_PID=$!
on_exit "kill $CAP_PID 2>/dev/null"
wait_for 5 test -s "$T/cap.port"
CAP=$(cat "$T/cap.port")

# ======== secrets never reach the logs ===========================================================
# Every secret the agent can be given, each a distinct string, and the guesses clients send.
S_HTTP=sec-http-TOKEN-1 S_API=sec-api-TOKEN-2 S_GUESS=sec-guess-TOKEN-3 S_BEARER=sec-bearer-TOKEN-4
S_METRIC_PW=sec-metric-PW-5 S_AWS=sec-aws-SECRET-6 S_AWS_SESSION=sec-aws-SESSION-7
S_AZURE_RAW=sec-azure-KEY-8 S_REDIS=sec-redis-PW-11 S_API_WRONG=sec-api-WRONG-12
S_AZURE=$(printf %s "$S_AZURE_RAW" | base64)
SECRETS=("$S_HTTP" "$S_API" "$S_GUESS" "$S_BEARER" "$S_METRIC_PW" "$S_AWS" "$S_AWS_SESSION"
         "$S_AZURE_RAW" "$S_AZURE" "$S_REDIS" "$S_API_WRONG")
# leaks LOG...: the secrets that occur in the files (empty: none)
leaks() { local s f out=""; for s in "${SECRETS[@]}"; do for f in "$@"; do grep -qF -- "$s" "$f" && out="$out $s"; done; done; echo "$out"; }

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--requirepass "$S_REDIS" >"$T/redis.log" 2>&1 &
REDIS_PID=$!
on_exit "kill $REDIS_PID 2>/dev/null"
cat >"$T/apps.json" <<JSON
{"maxContainers":20,"apps":[
 {"name":"web","priority":1,"minContainers":0,"maxContainers":3},
 {"name":"bearer","priority":2,"minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"HTTP",
  "config":{"url":"http://127.0.0.1:$CAP/bearer","valuePath":"depth","bearer":"$S_BEARER","targetQueueLength":5}},
 {"name":"basic","priority":3,"minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"HTTP",
  "config":{"url":"http://127.0.0.1:$CAP/basic","valuePath":"depth","user":"mu","passwordEnv":"METRIC_PW","targetQueueLength":5}},
 {"name":"sqs","priority":4,"minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"SQS",
  "config":{"queueURL":"http://127.0.0.1:$CAP/123456789012/q","endpoint":"http://127.0.0.1:$CAP/sqs/","region":"us-east-1","targetQueueLength":5}},
 {"name":"azure","priority":5,"minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"AzureQueue",
  "config":{"queueName":"jobs","endpoint":"http://127.0.0.1:$CAP/azure","targetQueueLength":5}},
 {"name":"redis","priority":6,"minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"Redis",
  "config":{"key":"k","endpoint":"127.0.0.1:$REDIS_PORT","password":"$S_REDIS","targetQueueLength":5}}]}
JSON
SECRET_ENV=(MSS_HTTP_TOKEN=$S_HTTP MSS_API_TOKEN=$S_API METRIC_PW=$S_METRIC_PW
            AWS_ACCESS_KEY_ID=AKIDSECTEST AWS_SECRET_ACCESS_KEY=$S_AWS AWS_SESSION_TOKEN=$S_AWS_SESSION
            AZURE_STORAGE_ACCOUNT_NAME=devstoreaccount1 AZURE_STORAGE_ACCOUNT_KEY=$S_AZURE)
srv_start logsrv --apps "$T/apps.json" --token "$S_API" || not_ok "the demand server starts"
LOGSRV=$PORT
api() { # api METHOD PATH AUTH-HEADER...: status code of a request to the agent's API on $HPORT
	local m=$1 p=$2; shift 2
	curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "http://127.0.0.1:$HPORT$p"
}
for fmt in logfmt json; do
	L="$T/secrets-$fmt.log"
	start_agent "$L" MSS_SCHEDULER=TOY MSS_DEMAND_ENGINE=SERVER MSS_CONFIG=SERVER MSS_MONITOR=SERVER,LOG \
		MSS_API_ADDRESS=127.0.0.1:$LOGSRV MSS_HTTP_ADDR=127.0.0.1:0 MSS_LOG_DEBUG=all \
		MSS_LOG_FORMAT=$fmt MSS_TICK_MS=100 MSS_TOY_START_MS=20 MSS_TOY_STOP_MS=20 "${SECRET_ENV[@]}"
	wait_for 10 grep -q 'listening' "$L"
	HPORT=$(grep 'listening' "$L" | head -1 | grep -o '"port":[0-9]*\|port=[0-9]*' | grep -o '[0-9]*$')
	wait_for 10 bash -c "[ \$(grep -c 'event=connected' $T/logsrv.err) -ge 1 ]"
	send web=2
	api POST /api/v1/pause -H "Authorization: Bearer $S_GUESS" >/dev/null
	api POST /api/v1/pause -H "Authorization: Basic $(printf 'x:%s' "$S_GUESS" | base64)" >/dev/null
	api POST "/api/v1/pause?task=web" -H "Authorization: Bearer $S_HTTP" >/dev/null
	api POST "/api/v1/resume?token=$S_GUESS" -H "Authorization: Bearer $S_HTTP" >/dev/null
	api GET "/api/v1/tasks?x=$S_GUESS" >/dev/null
	# Enough ticks for every metric source to be read (and fail) more than once.
	wait_for 10 bash -c "[ \$(grep -c 'redis' $L) -ge 2 ] && grep -q 'sqs' $L && grep -q 'azure' $L"
	sleep 1
	stop_agent "$AGENT_PID"
	debug=$(grep -c 'debug' "$L")
	check "logs ($fmt): MSS_LOG_DEBUG=all really logs at debug, HTTP, websocket and lws included ($debug lines)" \
		bash -c "[ $debug -ge 50 ] && grep -q 'comp.\{1,3\}http' $L && grep -q 'comp.\{1,3\}ws' $L && grep -q 'comp.\{1,3\}lws' $L"
	check "logs ($fmt): no token, password or key, configured or guessed, appears in the log$(leaks "$L")" \
		[ -z "$(leaks "$L")" ]
done
# A refused token (the server logs auth=refused): the refusal is logged, the token not.
L="$T/secrets-wrong.log"; : >"$L"
start_agent "$L" MSS_SCHEDULER=TOY MSS_DEMAND_ENGINE=SERVER MSS_CONFIG=ENVVAR \
	'MSS_CONFIG_DATA={"maxContainers":2,"apps":[{"name":"web","minContainers":0,"maxContainers":2}]}' \
	MSS_MONITOR=SERVER MSS_API_ADDRESS=127.0.0.1:$LOGSRV MSS_LOG_DEBUG=all MSS_API_TOKEN=$S_API_WRONG
check "logs: a refused API token is logged as a refusal" wait_for 10 grep -q 'cannot connect to the API server' "$L"
stop_agent "$AGENT_PID"
check "logs: and the refused token itself is not$(leaks "$L")" [ -z "$(leaks "$L")" ]
kill -9 "$SRV_PID" 2>/dev/null

# Marathon's token and password, accepted and refused.
DOUBLE="$ROOT/tests/doubles/marathon/marathon_double.py"
S_MARA_TOKEN=sec-mara-TOKEN-9 S_MARA_PW=sec-mara-PW-10
SECRETS+=("$S_MARA_TOKEN" "$S_MARA_PW" "sec-mara-WRONG-13")
python3 "$DOUBLE" --token "$S_MARA_TOKEN" --user "mu:$S_MARA_PW" >"$T/mara.port" 2>"$T/mara.err" &
MARA_PID=$!
disown "$MARA_PID"
on_exit "kill -9 $MARA_PID 2>/dev/null"
wait_for 10 test -s "$T/mara.port"
MPORT=$(head -1 "$T/mara.port")
n=0
for creds in "MSS_MARATHON_TOKEN=$S_MARA_TOKEN" "MSS_MARATHON_TOKEN=sec-mara-WRONG-13" \
	"MSS_MARATHON_USER=mu MSS_MARATHON_PASSWORD=$S_MARA_PW" "MSS_MARATHON_USER=mu MSS_MARATHON_PASSWORD=sec-mara-WRONG-13"; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	start_agent "$T/mara$n.log" MSS_SCHEDULER=MARATHON MSS_MARATHON_API=http://127.0.0.1:$MPORT \
		MSS_CONFIG=ENVVAR MSS_MONITOR=none MSS_LOG_DEBUG=all MSS_TICK_MS=100 MSS_SHUTDOWN_TIMEOUT=1 \
		'MSS_CONFIG_DATA={"maxContainers":2,"apps":[{"name":"web","minContainers":1,"maxContainers":1}]}' $creds
	wait_for 10 bash -c "[ \$(grep -c 'comp=http msg=done' $T/mara$n.log) -ge 3 ]"
	stop_agent "$AGENT_PID"
done
check "logs: Marathon requests were made with each credential (the wrong ones refused: 401 logged)" \
	bash -c "grep -q 'status=200' $T/mara1.log && grep -q 'status=401' $T/mara2.log && grep -q 'status=200' $T/mara3.log && grep -q 'status=401' $T/mara4.log"
check "logs: no Marathon token or password, right or wrong, appears in the log$(leaks "$T"/mara?.log)" \
	[ -z "$(leaks "$T"/mara?.log)" ]
kill -9 "$MARA_PID" 2>/dev/null
# A password in a URL's user info would be logged with the URL: such URLs are refused at load.
out=$(env -i PATH="$PATH" MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR \
	"MSS_CONFIG_DATA={\"maxContainers\":2,\"apps\":[{\"name\":\"m\",\"minContainers\":0,\"maxContainers\":2,\"ruleType\":\"Queue\",\"metricType\":\"HTTP\",\"config\":{\"url\":\"http://u:sec-url-PW-14@127.0.0.1:$CAP/\",\"valuePath\":\"depth\",\"targetQueueLength\":5}}]}" \
	"$BIN" --check-config 2>&1)
rc=$?
check "logs: a metric URL with user:password@ is refused (exit 2), the password not echoed" \
	bash -c '[ $0 -eq 2 ] && grep -q "user info" <<<"$1" && ! grep -q sec-url-PW-14 <<<"$1"' $rc "$out"
out=$(env -i PATH="$PATH" MSS_SCHEDULER=MARATHON MSS_CONFIG=DEMO MSS_MARATHON_API=http://u:sec-url-PW-15@127.0.0.1:1/ "$BIN" --check-config 2>&1)
rc=$?
check "logs: MSS_MARATHON_API with user:password@ is refused (exit 2), the password not echoed" \
	bash -c '[ $0 -eq 2 ] && grep -q "user info" <<<"$1" && ! grep -q sec-url-PW-15 <<<"$1"' $rc "$out"
out=$(env -i PATH="$PATH" MSS_SCHEDULER=TOY MSS_CONFIG=DEMO MSS_DEMAND_ENGINE=SERVER MSS_API_ADDRESS=ws://u:sec-url-PW-16@127.0.0.1:1/ "$BIN" --check-config 2>&1)
rc=$?
check "logs: MSS_API_ADDRESS with user:password@ is refused (exit 2), the password not echoed" \
	bash -c '[ $0 -eq 2 ] && grep -q "user info" <<<"$1" && ! grep -q sec-url-PW-16 <<<"$1"' $rc "$out"

# ======== what leaves the agent ====================================================================
# The metrics frames the API server got above: only the documented fields.
python3 - "$T/logsrv.out" >"$T/frames.out" 2>&1 <<'EOF'
import json, sys
n, bad = 0, []
for line in open(sys.argv[1]):
    ts, _, js = line.partition(" ")
    if '"metrics"' not in js:
        continue
    n += 1
    f = json.loads(js)
    if set(f) != {"user", "metrics"} or set(f["metrics"]) != {"tasks", "createdAt"}:
        bad.append(js)
    for t in f["metrics"]["tasks"]:
        if not set(t) <= {"app", "runningCount", "pendingCount", "metric"} or not {"app", "runningCount", "pendingCount"} <= set(t):
            bad.append(js)
print(n, len(bad), bad[:1])
EOF
check "sent: metrics frames carry only user, createdAt and per task app, runningCount, pendingCount, metric ($(cat "$T/frames.out"))" \
	bash -c 'read n b _ <"$0"; [ "$n" -ge 4 ] && [ "$b" = 0 ]' "$T/frames.out"
check "sent: no secret of the agent's reaches the API server in a frame$(leaks "$T/logsrv.out")" [ -z "$(leaks "$T/logsrv.out")" ]
: >"$T/cap.log"
cat >"$T/sent.json" <<JSON
{"maxContainers":10,"apps":[
 {"name":"bearer","minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"HTTP",
  "config":{"url":"http://127.0.0.1:$CAP/bearer","valuePath":"depth","bearer":"$S_BEARER","targetQueueLength":5}},
 {"name":"sqs","minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"SQS",
  "config":{"queueURL":"http://127.0.0.1:$CAP/123456789012/q","endpoint":"http://127.0.0.1:$CAP/sqs/","region":"us-east-1","targetQueueLength":5}},
 {"name":"azure","minContainers":0,"maxContainers":2,"ruleType":"Queue","metricType":"AzureQueue",
  "config":{"queueName":"jobs","endpoint":"http://127.0.0.1:$CAP/azure","targetQueueLength":5}}]}
JSON
start_agent "$T/sent.log" MSS_SCHEDULER=TOY MSS_DEMAND_ENGINE=SERVER MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/sent.json" \
	MSS_MONITOR=SERVER MSS_API_ADDRESS=127.0.0.1:$CAP MSS_TICK_MS=100 "${SECRET_ENV[@]}" SECRET_X=sec-env-X-17
SECRETS+=(sec-env-X-17)
wait_for 10 bash -c "grep -q '^GET /bearer' $T/cap.log && grep -q 'Upgrade: websocket' $T/cap.log && grep -q '/sqs' $T/cap.log && grep -q '/azure' $T/cap.log"
stop_agent "$AGENT_PID"
python3 - "$T/cap.log" "$S_API" "$S_BEARER" >"$T/heads.out" 2>&1 <<'EOF'
import sys
api_tok, bearer = sys.argv[2], sys.argv[3]
reqs = [r for r in open(sys.argv[1], "rb").read().decode("latin-1").split("\r\n--\r\n") if r.strip()]
def names(r):
    head = r.split("\r\n\r\n")[0].split("\r\n")
    return head[0], {l.split(":")[0].strip().lower(): l.split(":", 1)[1].strip() for l in head[1:]}
problems = []
seen = set()
for r in reqs:
    line, h = names(r)
    if h.get("upgrade") == "websocket":
        seen.add("ws")
        allowed = {"host", "origin", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
                   "pragma", "cache-control", "authorization"}
        if h.get("authorization") != "Bearer " + api_tok:
            problems.append("ws without the API token")
    elif line.startswith("GET /bearer"):
        seen.add("http")
        allowed = {"host", "user-agent", "accept", "authorization"}
        if h.get("authorization") != "Bearer " + bearer:
            problems.append("metric without its bearer")
    else:  # SQS, Azure: signed, never the key itself
        seen.add("signed")
        allowed = {"host", "user-agent", "accept", "authorization", "content-type", "content-length",
                   "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "x-ms-date", "x-ms-version"}
        if api_tok in r or bearer in r:
            problems.append("another server's token in " + line)
    extra = set(h) - allowed
    if extra:
        problems.append("%s: unexpected headers %s" % (line, sorted(extra)))
    if line.startswith("GET /bearer") and api_tok in r:
        problems.append("API token sent to a metric source")
print(" ".join(sorted(seen)), "|", "; ".join(sorted(set(problems))) or "ok")
EOF
check "sent: the websocket upgrade and metric requests carry only their own headers and credentials ($(cat "$T/heads.out"))" \
	grep -qx 'http signed ws | ok' "$T/heads.out"
check "sent: AWS and Azure keys never leave the process (signatures only); no other secret either$(leaks "$T/cap.log" | sed "s/ $S_API//; s/ $S_BEARER//; s/ $S_AWS_SESSION//")" \
	bash -c '[ -z "$(sed "s/ $1//; s/ $2//; s/ $3//" <<<"$0")" ]' "$(leaks "$T/cap.log")" "$S_API" "$S_BEARER" "$S_AWS_SESSION"

# ======== wss: a bad certificate fails closed ======================================================
mk() { openssl "$@" >/dev/null 2>&1; }
mk req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
	-keyout "$T/key.pem" -out "$T/cert.pem"
mk req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout "$T/other-key.pem" -out "$T/other.pem"
WSS_APPS='{"maxContainers":4,"apps":[{"name":"web","minContainers":0,"maxContainers":3}]}'
n=0
for c in "unknown CA|localhost|" "a CA that did not sign it|localhost|MSS_API_CA_FILE=$T/other.pem" \
	"the right CA but another name (127.0.0.1)|127.0.0.1|MSS_API_CA_FILE=$T/cert.pem"; do
	n=$((n + 1))
	IFS='|' read -r what host extra <<<"$c"
	srv_start "wss$n" --cert "$T/cert.pem" --key "$T/key.pem"
	send web=3 # replayed to an agent that connects
	# shellcheck disable=SC2086
	start_agent "$T/wss$n.log" MSS_SCHEDULER=TOY MSS_DEMAND_ENGINE=SERVER MSS_MONITOR=SERVER,LOG \
		MSS_CONFIG=ENVVAR "MSS_CONFIG_DATA=$WSS_APPS" "MSS_API_ADDRESS=wss://$host:$PORT/" \
		MSS_LOG_DEBUG=ws MSS_TICK_MS=100 MSS_TOY_START_MS=20 $extra
	wait_for 10 bash -c "[ \$(grep -c 'connect failed' $T/wss$n.log) -ge 3 ]"
	check "wss, $what: refused with a TLS reason, retried, never connected" bash -c \
		"grep -q 'cannot connect to the API server.*detail=\".*\\(erif\\|certificate\\|hostname\\|name\\)' $T/wss$n.log && [ \$(grep -c 'connect failed' $T/wss$n.log) -ge 3 ] && ! grep -q 'connected to the API server' $T/wss$n.log"
	check "wss, $what: fails closed: no demand applied (web stays 0), no frame reached the server" bash -c \
		"! grep -q 'msg=scale task=web' $T/wss$n.log && ! grep -q 'event=connected' $T/wss$n.err && [ \$(grep -c metrics $T/wss$n.out) -eq 0 ]"
	stop_agent "$AGENT_PID"
	kill -9 "$SRV_PID" 2>/dev/null
done
srv_start wsscfg --cert "$T/cert.pem" --key "$T/key.pem" --apps "$T/apps.json"
start_agent "$T/wsscfg.log" MSS_SCHEDULER=TOY MSS_CONFIG=SERVER MSS_MONITOR=LOG "MSS_API_ADDRESS=wss://localhost:$PORT/" MSS_SHUTDOWN_TIMEOUT=1
check "https config from a server with an unknown CA: not loaded, nothing started (retried, logged)" \
	wait_for 10 bash -c "grep -q 'config server unavailable.*certificate' $T/wsscfg.log && ! grep -q 'loaded from the server' $T/wsscfg.log && ! grep -q 'msg=start ' $T/wsscfg.log"
stop_agent "$AGENT_PID"
kill -9 "$SRV_PID" 2>/dev/null

# ======== the HTTP API: tokens, and what the server accepts =========================================
cat >"$T/toy.json" <<'JSON'
{"maxContainers":10,"apps":[{"name":"web","priority":1,"minContainers":1,"maxContainers":2},
 {"name":"worker","priority":2,"minContainers":0,"maxContainers":2}]}
JSON
start_agent "$T/http.log" MSS_SCHEDULER=TOY MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/toy.json" MSS_MONITOR=LOG \
	MSS_HTTP_ADDR=127.0.0.1:0 MSS_HTTP_TOKEN=$S_HTTP MSS_TICK_MS=100 MSS_TOY_START_MS=20 MSS_TOY_STOP_MS=20
HTTP_PID=$AGENT_PID
wait_for 10 grep -q 'msg=listening' "$T/http.log"
HPORT=$(listening_port "$T/http.log")
state() { curl -s "http://127.0.0.1:$HPORT/api/v1/tasks" | python3 -c '
import json,sys; d=json.load(sys.stdin)
print(d["dry_run"], [(t["name"], t["paused"], t["overrides"]) for t in d["tasks"]])'; }
wait_for 10 bash -c "grep -q 'msg=counts task=worker .* running=2' $T/http.log"
before=$(state)
bad=""
for ep in "POST /api/v1/pause" "POST /api/v1/resume" "PUT /api/v1/tasks/web" "POST /api/v1/dry-run"; do
	set -- $ep
	for hdr in "" "Authorization: Bearer wrong" "Authorization: Bearer ${S_HTTP}x" \
		"Authorization: Bearer ${S_HTTP%?}" "Authorization: Basic $(printf 'u:%s' "$S_HTTP" | base64)" \
		"Authorization: $S_HTTP" "X-Token: $S_HTTP"; do
		code=$(api "$1" "$2" ${hdr:+-H "$hdr"} -H 'Content-Type: application/json' --data '{"demand":0,"enabled":true}')
		case "$code" in 401 | 403) ;; *) bad="$bad [$ep '$hdr' -> $code]" ;; esac
	done
done
events=$(curl -s -m 1 "http://127.0.0.1:$HPORT/api/v1/events" | grep -c '"type":"control"')
check "auth: every control call without the right bearer token is 401/403 (7 forms x 4 endpoints)${bad}" [ -z "$bad" ]
check "auth: and changed nothing: no pause, override or dry-run, no control event" \
	bash -c "[ \"$before\" = \"\$($(declare -f state); HPORT=$HPORT state)\" ] && [ $events -eq 0 ]"
code=$(api POST "/api/v1/pause?task=worker" -H "Authorization: Bearer $S_HTTP")
check "auth: the right token is accepted (200)" [ "$code" = 200 ]
api POST /api/v1/resume -H "Authorization: Bearer $S_HTTP" >/dev/null
check "auth: the server listens on loopback only by default (MSS_HTTP_ADDR unset)" \
	bash -c "env -i PATH=\$PATH MSS_SCHEDULER=TOY MSS_CONFIG=DEMO $BIN --help 2>&1 | grep -q 'MSS_HTTP_ADDR.*127.0.0.1:9180'"

python3 - "$HPORT" "$S_HTTP" >"$T/limits.out" 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def raw(data, wait=15):
    """The answer's status line, or 'closed' if the server hung up without one."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        s.sendall(data)
        out = b""
        while b"\r\n" not in out:
            d = s.recv(4096)
            if not d:
                break
            out += d
    except OSError as e:
        return "error %s" % e
    finally:
        s.close()
    return out.split(b"\r\n")[0].decode("latin-1") or "closed"
def status(line):
    return line.split()[1] if line.startswith("HTTP/") else line
print("bighead", status(raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 8000 + b"\r\n\r\n")))
print("manyheaders", status(raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(1000)) + b"\r\n")))
print("bigpath", status(raw(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")))
print("normal", status(raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")))
for m in [b"TRACE", b"CONNECT", b"FOO", b"PROPFIND", b"DELETE", b"PATCH", b"OPTIONS"]:
    print("method", m.decode(), status(raw(m + b" /api/v1/tasks HTTP/1.1\r\nHost: x\r\n\r\n")))
print("badline", status(raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)))
t = time.time()
s = socket.create_connection(("127.0.0.1", port), timeout=60)
s.sendall(b"GET /healthz HTTP/1.1\r\n")
try:
    for i in range(60):
        s.sendall(b"X-Slow: 1\r\n")
        time.sleep(1)
    print("slowloris open 60")
except OSError:
    print("slowloris closed %d" % round(time.time() - t))
def body_then_wait(name, auth):
    t = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"POST /api/v1/pause HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 100\r\n\r\nab")
    try:
        d = s.recv(100)
        print(name, "closed" if d == b"" else "answered-" + d.split(b" ")[1].decode(), round(time.time() - t))
    except OSError:
        print(name, "error", round(time.time() - t))
body_then_wait("nobody-untokened", b"")
body_then_wait("slowbody", b"Authorization: Bearer " + sys.argv[2].encode() + b"\r\n")
EOF
cat "$T/limits.out"
lim() { grep -q "^$1\$" "$T/limits.out"; }
check "httpd: a request head over lws's 4 KB header space is closed, not served" lim "bighead closed"
check "httpd: 1000 headers are closed, not served" lim "manyheaders closed"
check "httpd: a 20 KB path is closed, not served" lim "bigpath closed"
check "httpd: a normal request on a fresh connection is still 200" lim "normal 200"
check "httpd: methods no path takes (TRACE, CONNECT, FOO, PROPFIND, DELETE, PATCH) are refused (403/405 or closed)" bash -c \
	"for m in TRACE CONNECT FOO PROPFIND DELETE PATCH; do grep -Eq \"^method \$m (403|405|closed|error.*)\$\" $T/limits.out || exit 1; done"
check "httpd: OPTIONS is 405 (no CORS: browsers on other origins cannot call the API)" lim "method OPTIONS 405"
check "httpd: binary junk (a TLS hello) is refused or closed" bash -c "grep -Eq '^badline (closed|error.*|400|403)\$' $T/limits.out"
check "httpd: a client trickling headers is cut off within 20 s ($(grep slowloris "$T/limits.out"))" \
	bash -c "read -r _ what secs <<<\"\$(grep slowloris $T/limits.out)\"; [ \$what = closed ] && [ \$secs -le 20 ]"
check "httpd: a control call's body is not waited for before its token is checked (401 at once)" \
	bash -c "read -r _ what secs <<<\"\$(grep nobody-untokened $T/limits.out)\"; [ \$what = answered-401 ] && [ \$secs -le 1 ]"
check "httpd: a client that stops mid-body is cut off within 20 s ($(grep slowbody "$T/limits.out"))" \
	bash -c "read -r _ what secs <<<\"\$(grep slowbody $T/limits.out)\"; [ \${what%%-*} != answered ] && [ \$secs -le 20 ]"

# A flood of idle connections: the API may stall while it lasts, scaling and memory do not.
python3 - "$HPORT" "$HTTP_PID" "$T/toy.json" "$T/flood.go" >"$T/flood.out" 2>&1 <<'EOF' &
import os, socket, sys, time
port, pid, cfg, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
socks = []
for i in range(1000):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
print("opened", len(socks), flush=True)
open(go, "w").close()
deadline = time.time() + 20
fds = 0
while time.time() < deadline and not os.path.exists(go + ".done"):
    fds = max(fds, len(os.listdir("/proc/%s/fd" % pid)))
    time.sleep(0.2)
print("maxfds", fds, flush=True)
for s in socks:
    s.close()
print("closed", flush=True)
EOF
FLOOD_PID=$!
on_exit "kill $FLOOD_PID 2>/dev/null"
wait_for 30 test -e "$T/flood.go"
sed -i 's/"name":"worker","priority":2,"minContainers":0,"maxContainers":2/"name":"worker","priority":2,"minContainers":0,"maxContainers":5/' "$T/toy.json"
kill -HUP "$HTTP_PID"
check "httpd flood ($(head -1 "$T/flood.out")): scaling goes on (worker 2 -> 5 on SIGHUP)" \
	wait_for 10 bash -c "grep -q 'msg=counts task=worker .* running=5' $T/http.log"
touch "$T/flood.go.done"
wait_for 10 grep -q '^closed' "$T/flood.out"
check "httpd flood: the agent's fds stay bounded (lws's limit, 256) ($(grep maxfds "$T/flood.out"))" \
	bash -c "read -r _ n <<<\"\$(grep maxfds $T/flood.out)\"; [ \$n -gt 0 ] && [ \$n -lt 320 ]"
check "httpd flood: after it the API answers again" wait_for 40 bash -c \
	"[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:$HPORT/healthz)\" = 200 ]"
check "httpd: the agent survived all of it" kill -0 "$HTTP_PID"
stop_agent "$HTTP_PID"
check "httpd: and drains and exits 0" [ "$EXIT_STATUS" = 0 ]

# ======== the image runs as a non-root user ========================================================
check "image: the Dockerfile's final stage sets USER to a non-root user" bash -c \
	"awk '/^FROM /{u=\"\"} /^USER /{u=\$2} END{exit !(u != \"\" && u != \"root\" && u != \"0\" && u !~ /^0:/)}' $ROOT/Dockerfile"

# ======== a private Docker engine ===================================================================
dockerd_start || { not_ok "private dockerd starts"; finish; exit 1; }
D=$DOCKER_CLI
OWNER=sec
OURS="com.microscaling.owner=$OWNER"
docker_agent() { # docker_agent LOG [ENV...]
	local log=$1; shift
	start_agent "$log" MSS_SCHEDULER=DOCKER MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/dk.json" MSS_MONITOR=none \
		MSS_TICK_MS=100 MSS_PULL_IMAGES=false "DOCKER_HOST=$DOCKER_HOST" MSS_INSTANCE_ID=$OWNER \
		MSS_RECONCILE_S=1 "$@"
}
dk_apps() { # dk_apps MIN MAX
	cat >"$T/dk.json" <<JSON
{"maxContainers":10,"apps":[{"name":"web","minContainers":$1,"maxContainers":$2,
 "config":{"image":"mss-test:latest","stopTimeout":1}}]}
JSON
}
ours_running() { [ "$($D ps -q --filter "label=$OURS" --filter label=com.microscaling.task=web --filter status=running | wc -l)" -eq "$1" ] &&
	[ "$($D ps -aq --filter "label=$OURS" --filter label=com.microscaling.task=web | wc -l)" -eq "$1" ]; }

# --- look-alike labels are never touched --------------------------------------------------------
la() { local n=$1; shift; $D run -d --name "$n" "$@" mss-test:latest >/dev/null; }
la la-other-owner --label com.microscaling.task=web --label com.microscaling.owner=sec-other
la la-owner-no-task --label "$OURS"
la la-task-no-owner --label com.microscaling.task=web
la la-owner-case --label com.microscaling.task=web --label com.microscaling.owner=SEC
la la-owner-prefix --label com.microscaling.task=web --label com.microscaling.owner=se
la la-owner-space --label com.microscaling.task=web --label "com.microscaling.owner=sec "
la la-legacy --label com.microscaling.microscaling-in-a-box=web
la la-key-case --label com.microscaling.Task=web --label com.Microscaling.owner=sec
la la-unconfigured --label com.microscaling.task=ghost --label "$OURS"
$D create --name la-exited --label com.microscaling.task=web --label com.microscaling.owner=sec-other mss-test:latest >/dev/null
LOOKALIKES="la-other-owner la-owner-no-task la-task-no-owner la-owner-case la-owner-prefix la-owner-space la-legacy la-key-case la-unconfigured la-exited"
snapshot() { for n in $LOOKALIKES; do $D inspect -f '{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}' "$n" 2>&1; done; }
snap_before=$(snapshot)
dk_apps 2 2
docker_agent "$T/la.log"
check "labels: the agent scales web to 2 beside ten look-alikes" wait_for 20 ours_running 2
dk_apps 4 4
kill -HUP "$AGENT_PID"
check "labels: up to 4" wait_for 20 ours_running 4
dk_apps 1 1
kill -HUP "$AGENT_PID"
check "labels: down to 1" wait_for 20 ours_running 1
sleep 2 # two reconcile rounds
stop_agent "$AGENT_PID"
check "labels: the drain exits 0 with none of ours left" bash -c "[ '$EXIT_STATUS' = 0 ] && $(declare -f ours_running); D=$D OURS=$OURS ours_running 0"
check "labels: every look-alike (other owner, owner without task, task without owner, owner case/prefix/space, Go's label on another instance, key case, an unconfigured task of ours, an exited one) is untouched: same id, state, start time" \
	[ "$snap_before" = "$(snapshot)" ]
check "labels: the owned container of an unconfigured task is logged, not adopted" grep -q 'ghost' "$T/la.log"
$D rm -f $LOOKALIKES >/dev/null

# --- the agent's environment never reaches a container, in every config form -------------------
env_apps() { # env_apps: three tasks, env as an object, as an array, and none
	cat <<JSON
{"maxContainers":6,"apps":[
 {"name":"objenv","minContainers":1,"maxContainers":1,"config":{"image":"mss-test:latest","stopTimeout":1,"env":{"TASK_A":"a1","TASK_B":"b=2"}}},
 {"name":"arrenv","minContainers":1,"maxContainers":1,"config":{"image":"mss-test:latest","stopTimeout":1,"env":["TASK_C=c3"]}},
 {"name":"noenv","minContainers":1,"maxContainers":1,"config":{"image":"mss-test:latest","stopTimeout":1,"command":["/bin/sleep","3600"]}}]}
JSON
}
env_apps >"$T/dk.json"
env_of() { $D inspect -f '{{json .Config.Env}}' "$($D ps -q --filter "label=$OURS" --filter "label=com.microscaling.task=$1" | head -1)"; }
envcheck() { # envcheck FORM: each task's container has exactly its own env, and no secret anywhere
	local form=$1 ok=1 got
	for want in 'objenv ["TASK_A=a1","TASK_B=b=2"]' 'arrenv ["TASK_C=c3"]' 'noenv null'; do
		set -- $want
		got=$(env_of "$1")
		# The image has no ENV; Docker itself may add nothing else. A null or [] env is empty.
		[ "$got" = "$2" ] || { [ "$2" = null ] && [ "$got" = "[]" ]; } || { echo "$form $1: $got"; ok=0; }
	done
	$D inspect $($D ps -q --filter "label=$OURS") >"$T/inspect-$form.json"
	local l; l=$(leaks "$T/inspect-$form.json")
	[ -z "$l" ] || { echo "$form: secrets in docker inspect:$l"; ok=0; }
	grep -q 'SECRET\|MSS_\|AWS_\|AZURE_\|DOCKER_' "$T/inspect-$form.json" && { echo "$form: agent variable names in docker inspect"; ok=0; }
	[ $ok = 1 ]
}
for form in FILE ENVVAR SERVER; do
	case $form in
	FILE) extra=() ;;
	ENVVAR) extra=(MSS_CONFIG=ENVVAR "MSS_CONFIG_DATA=$(env_apps)") ;;
	SERVER) env_apps >"$T/env-apps.json"; srv_start envsrv --apps "$T/env-apps.json" --token "$S_API"
		extra=(MSS_CONFIG=SERVER MSS_API_ADDRESS=127.0.0.1:$PORT) ;;
	esac
	docker_agent "$T/env-$form.log" "${SECRET_ENV[@]}" SECRET_X=sec-env-X-17 "${extra[@]}"
	wait_for 20 bash -c "[ \$($D ps -q --filter label=$OURS --filter status=running | wc -l) -eq 3 ]"
	envcheck "$form" >"$T/envcheck-$form.out" 2>&1
	check "env ($form config): each container has exactly its task's env (object, array, none); no variable or secret of the agent's anywhere in docker inspect $(tr '\n' ' ' <"$T/envcheck-$form.out" | head -c 300)" \
		[ ! -s "$T/envcheck-$form.out" ]
	stop_agent "$AGENT_PID"
	[ "$form" = SERVER ] && kill -9 "$SRV_PID" 2>/dev/null
done

# --- through the allow-list socket proxy --------------------------------------------------------
PROXY_SOCK="$T/proxy.sock" PLOG="$T/proxy.log"
python3 "$HERE/socket_proxy.py" --listen "$PROXY_SOCK" --upstream "${DOCKER_HOST#unix://}" --owner $OWNER --log "$PLOG" &
PROXY_PID=$!
on_exit "kill $PROXY_PID 2>/dev/null"
wait_for 5 test -S "$PROXY_SOCK"
$D run -d --name stranger mss-test:latest >/dev/null
stranger_started=$($D inspect -f '{{.State.StartedAt}}' stranger)
dk_apps 2 2
docker_agent "$T/proxy-agent.log" DOCKER_HOST=unix://$PROXY_SOCK MSS_PULL_IMAGES=true
check "proxy: the agent connects through the proxy" wait_for 10 grep -q 'msg=connected' "$T/proxy-agent.log"
check "proxy: scales up to 2" wait_for 20 ours_running 2
dk_apps 4 4
kill -HUP "$AGENT_PID"
check "proxy: up to 4" wait_for 20 ours_running 4
victim=$($D ps -q --filter "label=$OURS" | head -1)
$D kill "$victim" >/dev/null
check "proxy: a container killed from outside is removed and replaced" wait_for 20 bash -c \
	"$(declare -f ours_running); D=$D OURS=$OURS; ours_running 4 && ! $D ps -aq | grep -q ^$victim"
dk_apps 1 1
kill -HUP "$AGENT_PID"
check "proxy: down to 1" wait_for 20 ours_running 1
stop_agent "$AGENT_PID"
check "proxy: the drain exits 0, none of ours left" bash -c "[ '$EXIT_STATUS' = 0 ] && $(declare -f ours_running); D=$D OURS=$OURS ours_running 0"
check "proxy: nothing the agent asked for was denied ($(grep -c '^allow' "$PLOG") allowed)" \
	bash -c "! grep -q '^deny' $PLOG && [ \$(grep -c '^allow' $PLOG) -ge 10 ]"
used=""
for op in 'GET /version' 'GET /v[0-9.]*/containers/json?' 'POST /v[0-9.]*/containers/create?' \
	'POST /v[0-9.]*/containers/[0-9a-f]*/start' 'POST /v[0-9.]*/containers/[0-9a-f]*/stop?' \
	'DELETE /v[0-9.]*/containers/[0-9a-f]*?' 'GET /v[0-9.]*/events?' 'POST /v[0-9.]*/images/create?'; do
	grep -q "^allow $op" "$PLOG" || used="$used [$op]"
done
check "proxy: the agent used each endpoint of the documented list${used:+ (unused:$used)}" [ -z "$used" ]
check "proxy: the agent used nothing outside it" bash -c \
	"! grep '^allow' $PLOG | grep -Ev '^allow (GET /version|GET /v[0-9.]+/(containers/json\\?|events\\?|containers/[0-9a-f]+/json)|POST /v[0-9.]+/(containers/create\\?|containers/[0-9a-f]+/(start|stop)|images/create\\?)|DELETE /v[0-9.]+/containers/[0-9a-f]+\\?)'"

# What else the proxy refuses: pc METHOD PATH [BODY] -> status code
pc() { curl -s -o "$T/pc.body" -w '%{http_code}' --unix-socket "$PROXY_SOCK" -X "$1" \
	${3:+-H 'Content-Type: application/json' --data "$3"} "http://docker$2"; }
mine='"Labels":{"com.microscaling.task":"web","com.microscaling.owner":"sec"}'
sid=$($D inspect -f '{{.Id}}' stranger)
denied=""
for r in "GET /v1.41/info" "GET /v1.41/images/json" "GET /v1.41/containers/json" "GET /v1.41/containers/json?all=1" \
	"GET /v1.41/containers/json?filters=%7B%22label%22%3A%5B%22team%3Dcore%22%5D%7D" \
	"GET /v1.41/containers/$sid/json" "POST /v1.41/containers/$sid/stop" "POST /v1.41/containers/$sid/kill" \
	"DELETE /v1.41/containers/$sid?force=1" "POST /v1.41/containers/$sid/exec|{\"Cmd\":[\"sh\"]}" \
	"POST /v1.41/containers/$sid/start" "POST /v1.41/containers/$sid/attach" "GET /v1.41/containers/$sid/archive?path=/" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\"}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",\"Labels\":{\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"sec-other\"}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"Privileged\":true}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"Binds\":[\"/:/host\"]}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/\",\"Target\":\"/h\"}]}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"PidMode\":\"host\"}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"NetworkMode\":\"host\"}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\"]}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"Devices\":[{\"PathOnHost\":\"/dev/sda\"}]}}" \
	"POST /v1.41/containers/create|{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"SecurityOpt\":[\"seccomp=unconfined\"]}}" \
	"POST /v1.41/build" "POST /v1.41/volumes/create|{}" "GET /v1.41/secrets" "POST /v1.41/swarm/init|{}" "GET /v1.41/plugins"; do
	IFS='|' read -r mp body <<<"$r"
	set -- $mp
	code=$(pc "$1" "$2" "$body")
	[ "$code" = 403 ] || denied="$denied [$r -> $code]"
done
check "proxy: 28 requests outside the list are 403 (other containers, exec, privileged/binds/host namespaces/caps/devices creates, unfiltered lists, build, volumes, swarm, plugins)${denied}" \
	[ -z "$denied" ]
check "proxy: the stranger was not touched" \
	[ "$($D inspect -f '{{.State.Running}} {{.State.StartedAt}}' stranger)" = "true $stranger_started" ]
code=$(pc POST "/v1.41/containers/create?name=proxy-ok" "{\"Image\":\"mss-test:latest\",$mine,\"HostConfig\":{\"NetworkMode\":\"none\"}}")
cid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("Id",""))' "$T/pc.body" 2>/dev/null)
code2=$(pc POST "/v1.41/containers/$cid/start")
code3=$(pc DELETE "/v1.41/containers/$cid?force=1")
check "proxy: an allowed create (our labels, no host access), start and remove pass (201 204 204: $code $code2 $code3)" \
	[ "$code $code2 $code3" = "201 204 204" ]
DOCKER_HOST=unix://$PROXY_SOCK $D run --rm --privileged mss-test:latest true >"$T/cli.out" 2>&1
check "proxy: docker run --privileged through it fails, naming the proxy" grep -q 'socket proxy' "$T/cli.out"
$D rm -f stranger >/dev/null

echo "# $(basename "$0") took ${SECONDS}s"
finish
