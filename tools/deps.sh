#!/usr/bin/env bash
# Check for, or install, what microscaler needs on Debian 12: `deps.sh check` exits non-zero when
# something is missing; `deps.sh install` runs apt-get update once, then apt-get install, then
# installs the npm test servers (tests/npm: sqslite, azurite) from the committed lock file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Build: libhiredis-dev (RESP parsing), libssl-dev (libcrypto: Azure's HMAC). Tests: the metric
# sources' real servers (redis-server, rabbitmq-server, prometheus), started on loopback by
# tests/integration/test_metrics_*.sh; test_http_api.sh runs promtool and a Prometheus scraping
# /metrics (prometheus), checks its listener with ss (iproute2) and drives the dashboard in
# headless chromium. test_rootless.sh runs a rootless engine (rootlesskit, uidmap); debootstrap
# makes the container image's base (make image); make fuzz needs libclang-rt-14-dev (libFuzzer)
# and make valgrind needs valgrind.
PKGS=(build-essential clang libclang-rt-14-dev pkg-config libuv1-dev libcurl4-openssl-dev
      libwebsockets-dev libwebsockets-evlib-uv libcjson-dev libcmocka-dev libhiredis-dev libssl-dev
      docker.io busybox-static openssl python3 redis-server rabbitmq-server prometheus tzdata
      chromium iproute2 rootlesskit uidmap debootstrap valgrind)
NPM_DIR="$ROOT/tests/npm"
missing() {
	local out=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
	done
	# Node.js and npm run the npm test servers; Debian's packages when none is on the PATH.
	command -v npm >/dev/null 2>&1 || out+=(nodejs npm)
	echo "${out[@]:-}"
}
# The npm test servers are in place when npm's own record of the tree matches the lock file.
npm_ok() {
	[ -f "$NPM_DIR/node_modules/.package-lock.json" ] &&
		! [ "$NPM_DIR/node_modules/.package-lock.json" -ot "$NPM_DIR/package-lock.json" ]
}
case "${1:-check}" in
check)
	m=$(missing)
	if [ -n "$m" ]; then echo "missing: $m"; exit 1; fi
	npm_ok || { echo "missing: npm test servers (tests/npm)"; exit 1; }
	;;
install)
	m=$(missing)
	if [ -n "$m" ]; then
		SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
		echo "deps: installing $m"
		$SUDO apt-get update -qq
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $m
	else
		echo "deps: Debian packages all installed"
	fi
	if ! npm_ok; then
		echo "deps: npm ci in tests/npm"
		npm ci --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error
	fi
	;;
*) echo "usage: $0 check|install" >&2; exit 2 ;;
esac
