#!/usr/bin/env bash
# Docker over TCP with TLS, as the Docker CLI reads it: DOCKER_HOST=tcp://, DOCKER_TLS_VERIFY,
# DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem). A wrong CA or no client certificate must fail
# closed: logged once, nothing started, the agent alive.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-tls.XXXXXX)
on_exit "rm -rf $T"

# A CA, a server certificate for 127.0.0.1, a client certificate; and a second, unrelated CA.
mk() { openssl "$@" >/dev/null 2>&1; }
mk req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mss-test-ca -keyout "$T/ca-key.pem" -out "$T/ca.pem"
mk req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$T/server-key.pem" -out "$T/server.csr"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/server.ext"
mk x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca-key.pem" -CAcreateserial -days 2 \
	-extfile "$T/server.ext" -out "$T/server.pem"
mk req -newkey rsa:2048 -nodes -subj /CN=client -keyout "$T/key.pem" -out "$T/client.csr"
printf 'extendedKeyUsage=clientAuth\n' >"$T/client.ext"
mk x509 -req -in "$T/client.csr" -CA "$T/ca.pem" -CAkey "$T/ca-key.pem" -CAcreateserial -days 2 \
	-extfile "$T/client.ext" -out "$T/cert.pem"
mkdir -p "$T/good" "$T/wrongca" "$T/nocert"
cp "$T/ca.pem" "$T/cert.pem" "$T/key.pem" "$T/good/"
mk req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout "$T/o.key" -out "$T/wrongca/ca.pem"
cp "$T/cert.pem" "$T/key.pem" "$T/wrongca/"
cp "$T/ca.pem" "$T/nocert/"
check "test certificates were made" test -s "$T/good/cert.pem"

PORT=$((20000 + RANDOM % 20000))
dockerd_start -H "tcp://127.0.0.1:$PORT" --tlsverify --tlscacert "$T/ca.pem" \
	--tlscert "$T/server.pem" --tlskey "$T/server-key.pem" ||
	{ not_ok "private dockerd with TLS starts"; finish; exit 1; }
OURS=com.microscaling.owner=tls
cat >"$T/apps.json" <<'JSON'
{"maxContainers":2,"apps":[{"name":"web","minContainers":2,"maxContainers":2,
 "config":{"image":"mss-test:latest","stopTimeout":1}}]}
JSON
agent() { # agent LOG CERTDIR [ENV...]
	local log=$1 certs=$2; shift 2
	start_agent "$log" MSS_SCHEDULER=DOCKER MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/apps.json" \
		MSS_MONITOR=none MSS_TICK_MS=100 MSS_PULL_IMAGES=false MSS_INSTANCE_ID=tls \
		"DOCKER_HOST=tcp://127.0.0.1:$PORT" DOCKER_TLS_VERIFY=1 "DOCKER_CERT_PATH=$certs" "$@"
}

agent "$T/good.log" "$T/good"
check "with the right CA and client certificate it connects over TLS" wait_for 15 grep -q 'msg=connected' "$T/good.log"
check "and scales" wait_for 20 bash -c "[ \$($DOCKER_CLI ps -q --filter label=$OURS | wc -l) -eq 2 ]"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 30
check "and drains to zero, exit 0" bash -c "[ ${EXIT_STATUS:-1} -eq 0 ] && [ \$($DOCKER_CLI ps -aq --filter label=$OURS | wc -l) -eq 0 ]"

for bad in wrongca nocert; do
	agent "$T/$bad.log" "$T/$bad" MSS_SHUTDOWN_TIMEOUT=1
	check "$bad: the TLS failure is logged as unreachable" wait_for 15 grep -q 'msg="engine unreachable"' "$T/$bad.log"
	sleep 1
	check "$bad: logged once, nothing started, still alive" bash -c \
		"[ \$(grep -c 'engine unreachable' $T/$bad.log) -eq 1 ] && [ \$($DOCKER_CLI ps -aq --filter label=$OURS | wc -l) -eq 0 ] && kill -0 $AGENT_PID"
	kill -TERM "$AGENT_PID"
	EXIT_STATUS=none
	wait_exit "$AGENT_PID" 10
	# The engine was never seen, so what we own is unknown: not a clean drain (exit 1).
	check "$bad: SIGTERM while the engine was never reachable exits 1 at the deadline" \
		[ "$EXIT_STATUS" = 1 ]
done
finish
