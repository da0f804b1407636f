#!/usr/bin/env bash
# Check for, or install, what microscaler needs on Debian 12: `deps.sh check` exits non-zero when
# something is missing; `deps.sh install` runs apt-get update once, then apt-get install.
set -euo pipefail
PKGS=(build-essential clang pkg-config libuv1-dev libcurl4-openssl-dev libwebsockets-dev
      libwebsockets-evlib-uv libcjson-dev libcmocka-dev docker.io busybox-static openssl python3)
missing() {
	local out=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
	done
	echo "${out[@]:-}"
}
case "${1:-check}" in
check)
	m=$(missing)
	if [ -n "$m" ]; then echo "missing: $m"; exit 1; fi
	;;
install)
	m=$(missing)
	[ -z "$m" ] && { echo "deps: all installed"; exit 0; }
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	echo "deps: installing $m"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $m
	;;
*) echo "usage: $0 check|install" >&2; exit 2 ;;
esac
