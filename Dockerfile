# microscaler container image: build on Debian 12, run on a slim Debian 12 with only the binary
# and its shared libraries, as a non-root user.
#
# Run it beside Docker with the engine's socket mounted (socket access is root-equivalent: see
# docs/security.md). The user must be able to read the socket, so pass the socket's group:
#   docker run -d --name microscaler --stop-timeout 45 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -e MSS_CONFIG=FILE -e MSS_CONFIG_FILE=/etc/microscaler/apps.json \
#     -v "$PWD/apps.json:/etc/microscaler/apps.json:ro" \
#     microscaler:latest
# `docker stop` sends SIGTERM: microscaler drains what it owns before the stop timeout
# (give it `--stop-timeout` above MSS_SHUTDOWN_TIMEOUT; Docker's default is 10 s, ours 30 s).
# `make image` builds this file with no registry (tools/image.sh); the runtime stage holds the
# binary and its shared libraries only, no compiler.

FROM debian:bookworm-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libuv1-dev libcurl4-openssl-dev libwebsockets-dev \
        libcjson-dev libhiredis-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The context is the source folders only (.dockerignore): no .git, so the revision comes in here.
COPY . .
ARG GIT_REV=unknown
RUN make -j"$(nproc)" GIT_REV="$GIT_REV" bin/microscaler

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libuv1 libcurl4 libwebsockets17 libwebsockets-evlib-uv libcjson1 libhiredis0.14 \
        libssl3 tzdata ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 microscaler \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --no-log-init microscaler
COPY --from=build /src/bin/microscaler /usr/local/bin/microscaler
# Numeric, so runtimes that enforce "non-root" (runAsNonRoot) can verify it.
USER 10001:10001
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/microscaler"]
