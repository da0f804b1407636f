#!/usr/bin/env bash
# The container image is real: `make image` (tools/image.sh) builds it, and on a private engine it
# runs with that engine's socket mounted, as a non-root user with no compiler inside, scales a
# task to N, leaves its own (unlabelled) container and a stranger alone, and on `docker stop`
# drains what it owns to zero and exits 0 within the stop timeout. The systemd unit verifies.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-img.XXXXXX)
on_exit "rm -rf $T"
VERSION=$(cat "$ROOT/VERSION")
IMAGE=microscaler:$VERSION
IMAGE_TAR=${MSS_IMAGE_CACHE:-$ROOT/build/image}/microscaler-$VERSION.tar
N=4
OWNER=imgtest
OURS="com.microscaling.owner=$OWNER"
SHUTDOWN_S=20 # MSS_SHUTDOWN_TIMEOUT in the container
STOP_S=40     # docker's --stop-timeout: above the drain deadline
D=$DOCKER_CLI

# --- the image: built (or brought up to date from the cache) on tools/image.sh's own engine -----
t0=$(date +%s)
if ! env -u DOCKER_HOST "$ROOT/tools/image.sh" >"$T/image.log" 2>&1; then
	sed 's/^/# /' "$T/image.log" | tail -20
	not_ok "make image builds $IMAGE (it needs debootstrap and the Debian mirror; see above)"
	finish
	exit 1
fi
ok "make image builds $IMAGE ($(($(date +%s) - t0)) s)"

dockerd_start || { not_ok "private dockerd starts"; finish; exit 1; }
SOCK=${DOCKER_HOST#unix://}
if ! "$D" load -i "$IMAGE_TAR" >/dev/null; then
	not_ok "the saved image $IMAGE_TAR loads"; finish; exit 1
fi
echo "# image size: $(($("$D" image inspect -f '{{.Size}}' "$IMAGE") / 1000000)) MB"
check "the image runs as a non-root user and stops with SIGTERM" bash -c \
	"[ \"\$($D image inspect -f '{{.Config.User}} {{.Config.StopSignal}}' $IMAGE)\" = '10001:10001 SIGTERM' ]"
check "the runtime image holds no compiler, assembler, linker or make" \
	"$D" run --rm --network none --entrypoint /bin/sh "$IMAGE" -c \
	'for c in cc gcc c++ g++ clang cpp as ld make; do ! command -v $c || exit 1; done; [ ! -e /usr/lib/gcc ]'
check "the binary's shared libraries are all there" bash -c \
	"$D run --rm --network none $IMAGE --version | grep -q '^microscaler $VERSION'"

# --- run it as documented, with the engine's socket mounted ------------------------------------
cat >"$T/apps.json" <<JSON
{"maxContainers":10,"apps":[{"name":"web","priority":1,"minContainers":$N,"maxContainers":$N,
 "config":{"image":"mss-test:latest","command":"/bin/sleep 3600","stopTimeout":1}}]}
JSON
chmod 644 "$T/apps.json"
"$D" run -d --name stranger mss-test:latest >/dev/null
run_microscaler() { # run_microscaler NAME [docker run args...]
	local name=$1; shift
	"$D" run -d --name "$name" --network none --stop-timeout "$STOP_S" \
		-v "$SOCK:/var/run/docker.sock" "$@" \
		-v "$T/apps.json:/etc/microscaler/apps.json:ro" \
		-e MSS_SCHEDULER=DOCKER -e MSS_CONFIG=FILE -e MSS_CONFIG_FILE=/etc/microscaler/apps.json \
		-e MSS_MONITOR=LOG -e MSS_PULL_IMAGES=false -e MSS_INSTANCE_ID=$OWNER \
		-e MSS_RECONCILE_S=2 -e MSS_SHUTDOWN_TIMEOUT=$SHUTDOWN_S "$IMAGE" >/dev/null
}
running_is() { [ "$(count_running "$OURS")" -eq "$1" ] && [ "$(count_labelled "$OURS")" -eq "$1" ]; }
logs_have() { "$D" logs "$1" 2>&1 | grep -q "$2"; }

# Without the socket's group the non-root user cannot reach the engine: refused, nothing started.
run_microscaler nogroup
check "without --group-add the socket is refused (the user is not root)" \
	wait_for 30 logs_have nogroup 'engine unreachable.*[Pp]ermission denied'
check "and nothing was started" running_is 0
"$D" rm -f nogroup >/dev/null

run_microscaler microscaler --group-add "$(stat -c %g "$SOCK")"
pid=$("$D" inspect -f '{{.State.Pid}}' microscaler)
check "it runs as uid 10001" grep -Eq '^Uid:[[:space:]]+10001[[:space:]]' "/proc/$pid/status"
check "it connects to the engine through the mounted socket" wait_for 30 logs_have microscaler 'msg=connected'
check "it scales the task to $N" wait_for 60 running_is "$N"
check "its HTTP API answers inside the container (libwebsockets' libuv plugin loads)" \
	wait_for 10 nsenter -t "$pid" -n curl -sf -o /dev/null http://127.0.0.1:9180/healthz
check "its own, unlabelled container is left alone" bash -c \
	"[ \"\$($D inspect -f '{{.State.Running}} {{.RestartCount}} {{index .Config.Labels \"com.microscaling.owner\"}}' microscaler)\" = 'true 0 ' ]"
check "the stranger is left alone" bash -c "[ \"\$($D inspect -f '{{.State.Running}}' stranger)\" = true ]"

# --- docker stop: SIGTERM, drain, exit 0 before the stop timeout -------------------------------
t0=$(date +%s%N)
"$D" stop microscaler >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# docker stop took $ms ms"
"$D" logs microscaler >"$T/microscaler.log" 2>&1
check "docker stop: it exits 0 (a clean drain, not killed)" bash -c \
	"[ \"\$($D inspect -f '{{.State.ExitCode}} {{.State.OOMKilled}}' microscaler)\" = '0 false' ]"
check "within the stop timeout (${ms} ms < ${STOP_S} s)" [ "$ms" -lt $((STOP_S * 1000)) ]
check "the drain is logged as finished" grep -q 'shutdown: all finished' "$T/microscaler.log"
check "zero owned containers are left" running_is 0
check "its own container is still there (stopped, not removed by itself)" \
	bash -c "[ \"\$($D inspect -f '{{.State.Status}}' microscaler)\" = exited ]"
check "the stranger is still running" bash -c "[ \"\$($D inspect -f '{{.State.Running}}' stranger)\" = true ]"
# --- the systemd unit the README ships (with this tree's binary in place of /usr/local/bin) ----
if command -v systemd-analyze >/dev/null && [ -x "$BIN" ]; then
	mkdir -p "$T/unit"
	sed "s|/usr/local/bin/microscaler|$BIN|g" "$ROOT/docs/microscaler.service" >"$T/unit/microscaler.service"
	check "docs/microscaler.service passes systemd-analyze verify" bash -c \
		"cd $T/unit && out=\$(systemd-analyze verify ./microscaler.service 2>&1) && [ -z \"\$out\" ]"
fi
[ "$FAILS" -eq 0 ] || sed 's/^/# /' "$T/microscaler.log" | tail -30

finish
