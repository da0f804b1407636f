# microscaler container image: build on Debian 12, run on a slim Debian 12 with only the binary
# and its shared libraries, as a non-root user.
#
# Run it beside Docker with the engine's socket mounted (socket access is root-equivalent: see
# docs/security.md). The user must be able to read the socket, so pass the socket's group:
#   docker run -d --name microscaler \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -e MSS_CONFIG=FILE -e MSS_CONFIG_FILE=/etc/microscaler/apps.json \
#     -v "$PWD/apps.json:/etc/microscaler/apps.json:ro" \
#     microscaler:latest
# `docker stop` sends SIGTERM: microscaler drains what it owns before the stop timeout
# (give it `--stop-timeout` above MSS_SHUTDOWN_TIMEOUT).

FROM debian:bookworm-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libuv1-dev libcurl4-openssl-dev libwebsockets-dev \
        libcjson-dev libhiredis-dev libssl-dev ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make bin/microscaler

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libuv1 libcurl4 libwebsockets17 libwebsockets-evlib-uv libcjson1 libhiredis0.14 \
        libssl3 tzdata ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin microscaler
COPY --from=build /src/bin/microscaler /usr/local/bin/microscaler
USER microscaler
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/microscaler"]
