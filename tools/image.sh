#!/usr/bin/env bash
# `make image`: build the Dockerfile into microscaler:latest and microscaler:<VERSION> with no
# registry. The debian:bookworm-slim base is made here (debootstrap, minbase, from the mirror apt
# already uses) and `docker import`ed; its tarball is cached, so only the first run debootstraps.
#
# Engine: $DOCKER_HOST when set. Otherwise a private dockerd whose data root persists in the cache
# directory (so Docker's build cache does too); the image is then also saved to
# $CACHE/microscaler-<VERSION>.tar for `docker load` into another engine (the tests do this).
# Needs root (debootstrap, dockerd). Settings: MSS_IMAGE_CACHE (default build/image),
# MSS_DEBIAN_MIRROR, MSS_DEBIAN_SECURITY_MIRROR (default: from /etc/apt/sources*).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
CACHE=${MSS_IMAGE_CACHE:-$ROOT/build/image}
BASE_TAR=$CACHE/debian-bookworm-slim.tar
IMAGE_TAR=$CACHE/microscaler-$VERSION.tar
D=${DOCKER_CLI:-/usr/bin/docker} # Debian's client, matching Debian's engine
# BuildKit (built into Debian's docker.io 20.10 engine and client, no buildx plugin needed) runs
# the two stages' apt-get at once and keeps its build cache apart from the images; it uses the
# imported base, not a registry. `--network host`: the private engines have no bridge network.
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1}
say() { echo "image: [${SECONDS}s] $*"; }
die() { echo "image: error: $*" >&2; exit 1; }

# The first apt source whose URI ends in /$1 (debian or debian-security), in one-line or deb822
# format; deb.debian.org when there is none.
apt_uri() {
	local uri
	uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		2>/dev/null | grep -v '^[[:space:]]*#' | grep -oE 'https?://[^[:space:]]+' |
		sed 's,/*$,,' | grep -E "/$1\$" | head -1 || true)
	echo "${uri:-http://deb.debian.org/$1}"
}

# The base: what the official debian:bookworm-slim holds, made the same way (debootstrap
# minbase, documentation and translations left out, apt caches cleaned, security updates in).
make_base() {
	local mirror security dir
	mirror=${MSS_DEBIAN_MIRROR:-$(apt_uri debian)}
	security=${MSS_DEBIAN_SECURITY_MIRROR:-$(apt_uri debian-security)}
	command -v debootstrap >/dev/null || die "debootstrap is not installed (make deps)"
	dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
	ROOTFS=$dir
	say "debootstrap bookworm (minbase) from $mirror"
	if ! debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
		tail -5 "$CACHE/debootstrap.log" >&2
		die "debootstrap failed (no network to $mirror?); log: $CACHE/debootstrap.log"
	fi
	cat >"$dir/etc/dpkg/dpkg.cfg.d/slim" <<-'EOF'
	# As debian:*-slim: no documentation, manuals or translations (copyright files are kept).
	path-exclude /usr/share/doc/*
	path-include /usr/share/doc/*/copyright
	path-exclude /usr/share/man/*
	path-exclude /usr/share/groff/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/lintian/*
	path-exclude /usr/share/linda/*
	path-exclude /usr/share/locale/*
	EOF
	cat >"$dir/etc/apt/apt.conf.d/slim" <<-'EOF'
	// As debian:*-slim: no translated indexes, no recommends, downloaded packages deleted.
	Acquire::Languages "none";
	APT::Install-Recommends "false";
	DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
	Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
	EOF
	rm -f "$dir/etc/apt/sources.list"
	cat >"$dir/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: $mirror
	Suites: bookworm bookworm-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: $security
	Suites: bookworm-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	say "security and point updates"
	if ! chroot "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade' \
		>>"$CACHE/debootstrap.log" 2>&1; then
		tail -5 "$CACHE/debootstrap.log" >&2
		die "apt-get upgrade in the new root failed; log: $CACHE/debootstrap.log"
	fi
	find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
	find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$dir"/usr/share/{man,groff,info,lintian,linda,locale}/* \
		"$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
		"$dir"/var/log/apt/* "$dir"/var/log/dpkg.log "$dir"/var/log/bootstrap.log
	: >"$dir/etc/resolv.conf" # the engine provides its own
	: >"$dir/etc/machine-id"
	tar --numeric-owner --xattrs -C "$dir" -cf "$BASE_TAR.tmp" .
	mv "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf "$dir"; ROOTFS=
	say "base cached: $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
}

# A private engine: data root in the cache, sockets under /tmp (unix socket paths are short).
ENGINE_DIR=
engine_start() {
	ENGINE_DIR=$(mktemp -d /tmp/mss-dockerd.XXXXXX)
	dockerd --data-root "$CACHE/engine" --exec-root "$ENGINE_DIR/exec" \
		--pidfile "$ENGINE_DIR/dockerd.pid" -H "unix://$ENGINE_DIR/docker.sock" --bridge none \
		--iptables=false --ip6tables=false --log-level warn >"$ENGINE_DIR/dockerd.log" 2>&1 &
	export DOCKER_HOST="unix://$ENGINE_DIR/docker.sock"
	for _ in $(seq 150); do
		"$D" version >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	tail -20 "$ENGINE_DIR/dockerd.log" >&2
	die "private dockerd did not start"
}
engine_stop() {
	[ -n "$ENGINE_DIR" ] || return 0
	local pid
	pid=$(cat "$ENGINE_DIR/dockerd.pid" 2>/dev/null || true)
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	{ grep -o " ${ENGINE_DIR}[^ ]*" /proc/mounts || true; } | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf "$ENGINE_DIR"
	ENGINE_DIR=
}

ROOTFS=
cleanup() {
	set +e
	engine_stop
	[ -z "$ROOTFS" ] || rm -rf "$ROOTFS" "$BASE_TAR.tmp"
	rm -f "$IMAGE_TAR.tmp"
}
trap cleanup EXIT
mkdir -p "$CACHE"
# One build at a time per cache (the private engine's data root, the tarballs).
exec 9>"$CACHE/.lock"
flock 9
new_base=0
[ -f "$BASE_TAR" ] || { make_base; new_base=1; }

private=0
if [ -z "${DOCKER_HOST:-}" ]; then
	private=1
	engine_start
fi
if [ "$new_base" = 1 ] || ! "$D" image inspect debian:bookworm-slim >/dev/null 2>&1; then
	say "docker import debian:bookworm-slim"
	"$D" import "$BASE_TAR" debian:bookworm-slim >/dev/null
fi

say "docker build microscaler:$VERSION ($GIT_REV) on $DOCKER_HOST, log: $CACHE/build.log"
if ! "$D" build --progress plain --network host --build-arg "GIT_REV=$GIT_REV" \
	-t "microscaler:$VERSION" -t microscaler:latest "$ROOT" >"$CACHE/build.log" 2>&1; then
	tail -20 "$CACHE/build.log" >&2
	die "docker build failed; log: $CACHE/build.log"
fi
id=$("$D" image inspect -f '{{.Id}}' "microscaler:$VERSION")
say "built microscaler:$VERSION ${id#sha256:} ($(($("$D" image inspect -f '{{.Size}}' "microscaler:$VERSION") / 1000000)) MB)"

if [ "$private" = 1 ]; then
	# What older builds left in our own engine (never in yours): untagged images, and build cache
	# beyond what a rebuild needs.
	"$D" image prune -f >/dev/null
	"$D" builder prune -f --keep-storage 2GB >/dev/null
	# Saved again only when the image changed.
	if [ "$(cat "$IMAGE_TAR.id" 2>/dev/null)" != "$id" ] || [ ! -f "$IMAGE_TAR" ]; then
		"$D" save -o "$IMAGE_TAR.tmp" "microscaler:$VERSION" microscaler:latest
		mv "$IMAGE_TAR.tmp" "$IMAGE_TAR"
		echo "$id" >"$IMAGE_TAR.id"
	fi
	say "saved $IMAGE_TAR (load it into an engine with: docker load -i $IMAGE_TAR)"
fi
