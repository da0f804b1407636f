#!/usr/bin/env bash
# A rootless Docker engine (rootlesskit + Debian's dockerd-rootless.sh, run by an unprivileged
# user), and the agent, as that same user, scaling and draining on it. Root in a container there
# is the unprivileged user on the host: even a privileged container with the host's / mounted
# cannot write the host's /usr or read root's files. Skipped, saying why, when rootlesskit, newuidmap or
# the script are missing (make deps installs them).
. "$(dirname "$0")/lib.sh"
SECONDS=0
ROOTLESS_SH=/usr/share/docker.io/contrib/dockerd-rootless.sh
USER_NAME=mss-rootless
skip() { echo "ok - # SKIP rootless Docker: $*"; finish; exit 0; }
for c in rootlesskit newuidmap newgidmap setpriv; do command -v "$c" >/dev/null || skip "$c is not installed"; done
[ -x "$ROOTLESS_SH" ] || skip "$ROOTLESS_SH is missing (Debian's docker.io ships it)"
[ "$(id -u)" -eq 0 ] || skip "needs root to set up the unprivileged user"
# The unprivileged user, with subordinate uid/gid ranges (useradd adds them); kept for next time.
if ! id "$USER_NAME" >/dev/null 2>&1; then
	useradd --system --create-home --home-dir "/var/lib/$USER_NAME" --shell /usr/sbin/nologin "$USER_NAME" ||
		skip "cannot create user $USER_NAME"
fi
for f in /etc/subuid /etc/subgid; do
	grep -q "^$USER_NAME:" "$f" || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$USER_NAME"
done
UID_R=$(id -u "$USER_NAME")
AS_USER=(setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups) # execs: $! is the program

R=$(mktemp -d /tmp/mss-rootless.XXXXXX)
chown "$USER_NAME:" "$R"
chmod 700 "$R"
T=$(mktemp -d /tmp/mss-rootless-t.XXXXXX)
chown "$USER_NAME:" "$T"
on_exit "rm -rf $R $T"
export DOCKER_HOST="unix://$R/run/docker.sock"
# rootlesskit's default network (slirp4netns) needs /dev/net/tun, which is root's here: the
# engine shares the host's network instead (--bridge none: containers get none anyway).
"${AS_USER[@]}" env -i PATH="$PATH" HOME="/var/lib/$USER_NAME" XDG_RUNTIME_DIR="$R/run" \
	DOCKERD_ROOTLESS_ROOTLESSKIT_NET=host DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=none \
	DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=1500 \
	bash -c "mkdir -p $R/run && cd && exec $ROOTLESS_SH --data-root $R/data --exec-root $R/run/exec \
		--pidfile $R/run/dockerd.pid -H $DOCKER_HOST --bridge none --iptables=false --ip6tables=false" \
	>"$T/dockerd.log" 2>&1 &
RK_PID=$! # rootlesskit (the script execs it); its children go with it
rootless_stop() { # every container removed first (no orphaned shims), then the engine
	local ids
	ids=$("$DOCKER_CLI" ps -aq 2>/dev/null) && [ -n "$ids" ] && "$DOCKER_CLI" rm -f $ids >/dev/null 2>&1
	local dpid; dpid=$(cat "$R/run/dockerd.pid" 2>/dev/null)
	kill "$RK_PID" 2>/dev/null
	wait_for 20 bash -c "! kill -0 $RK_PID 2>/dev/null" || kill -9 "$RK_PID" 2>/dev/null
	[ -n "$dpid" ] && { wait_for 20 bash -c "! kill -0 $dpid 2>/dev/null" || kill -9 "$dpid" 2>/dev/null; }
}
on_exit rootless_stop
if ! wait_for 30 "$DOCKER_CLI" version >/dev/null 2>&1; then
	grep -v '^+' "$T/dockerd.log" | tail -5
	not_ok "a rootless engine starts"
	finish
	exit 1
fi
check "the engine runs rootless (docker info: name=rootless), as $USER_NAME" bash -c \
	"$DOCKER_CLI info -f '{{json .SecurityOptions}}' | grep -q name=rootless && [ \$(stat -c %u /proc/$RK_PID) -eq $UID_R ]"
root="$T/image"
mkdir -p "$root/bin" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in sh sleep touch cat; do ln -sf busybox "$root/bin/$a"; done
tar -C "$root" -c . | "$DOCKER_CLI" import -c 'CMD ["/bin/sleep","3600"]' - mss-test:latest >/dev/null

P=$(mktemp -d /tmp/mss-rootless-p.XXXXXX) # root's, mode 700, with a root-only file
on_exit "rm -rf $P"
echo secret >"$P/secret"
chmod 600 "$P/secret"
out=$("$DOCKER_CLI" run --rm --privileged -v /:/host mss-test:latest sh -c \
	"touch /host/usr/mss-rootless-probe 2>/dev/null && echo wrote-usr; cat /host$P/secret 2>/dev/null; echo done" 2>&1)
check "a privileged container with the host's / mounted cannot write the host's /usr or read root's files ($(echo $out))" \
	bash -c '[ "$0" = done ] && [ ! -e /usr/mss-rootless-probe ]' "$out"
rm -f /usr/mss-rootless-probe

OURS=com.microscaling.owner=rootless
apps() { echo "{\"maxContainers\":5,\"apps\":[{\"name\":\"web\",\"minContainers\":$1,\"maxContainers\":$1,\"config\":{\"image\":\"mss-test:latest\",\"stopTimeout\":1}}]}" >"$T/apps.json"; }
ours() { [ "$("$DOCKER_CLI" ps -q --filter "label=$OURS" --filter status=running | wc -l)" -eq "$1" ] &&
	[ "$("$DOCKER_CLI" ps -aq --filter "label=$OURS" | wc -l)" -eq "$1" ]; }
apps 2
# Under asan-test/valgrind BIN is a wrapper script in SAN_DIR (root's, mode 700), and the reports
# are written there: the unprivileged agent must be able to run the one and write the other.
[ -n "$SAN_DIR" ] && chown "$USER_NAME:" "$SAN_DIR"
"${AS_USER[@]}" env -i PATH="$PATH" MSS_SCHEDULER=DOCKER MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/apps.json" \
	MSS_MONITOR=none MSS_TICK_MS=100 MSS_PULL_IMAGES=false MSS_INSTANCE_ID=rootless MSS_HTTP_ADDR= \
	"DOCKER_HOST=$DOCKER_HOST" "$BIN" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
on_exit "kill -9 $AGENT_PID 2>/dev/null"
check "the agent, as $USER_NAME, scales to 2 on the rootless engine" wait_for 30 ours 2
pid=$("$DOCKER_CLI" inspect -f '{{.State.Pid}}' "$("$DOCKER_CLI" ps -q --filter "label=$OURS" | head -1)")
check "a container's root is $USER_NAME (uid $UID_R) on the host" [ "$(stat -c %u "/proc/$pid")" = "$UID_R" ]
apps 3
kill -HUP "$AGENT_PID"
check "up to 3" wait_for 30 ours 3
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 30; then
	check "SIGTERM drains to zero and exits 0" bash -c "$(declare -f ours); DOCKER_CLI=$DOCKER_CLI OURS=$OURS; [ $EXIT_STATUS -eq 0 ] && ours 0"
else
	not_ok "SIGTERM drains (still running after 30 s)"
fi
[ "$FAILS" -eq 0 ] || { echo "# the agent's log:"; tail -20 "$T/agent.log" | sed 's/^/#   /'; }
echo "# $(basename "$0") took ${SECONDS}s"
finish
