# One image per daemon, all built by the same build stage:
#   docker build --target node-exporter   -t node-exporter .
#   docker build --target kafka-exporter  -t kafka-exporter .
#   docker build --target gateway-sidecar -t gateway-sidecar .
# (docker-compose.yml builds the three this way.)
#
# The final images are distroless: glibc and CA certificates, no shell, no package manager,
# running as the `nonroot` user (65532). The build and run stages are both Debian 12, so the
# binaries find the glibc they were linked against.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# A C compiler for ring's assembly (rustls); no C library is bundled any more.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
# .dockerignore keeps the context to Cargo.toml, Cargo.lock and crates/.
COPY . .
RUN cargo build --release --locked -p node-exporter -p kafka-exporter -p gateway-sidecar \
 && mkdir -p /out \
 && cp target/release/node-exporter target/release/kafka-exporter target/release/gateway-sidecar /out/

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
USER nonroot:nonroot

# node-exporter: give it the host with `-v /:/host:ro,rslave --path.rootfs=/host`, and
# --net=host --pid=host so that it sees the host's network interfaces and processes.
FROM runtime AS node-exporter
COPY --from=build /out/node-exporter /usr/local/bin/node-exporter
EXPOSE 9100
ENTRYPOINT ["/usr/local/bin/node-exporter"]

FROM runtime AS kafka-exporter
COPY --from=build /out/kafka-exporter /usr/local/bin/kafka-exporter
EXPOSE 9308
ENTRYPOINT ["/usr/local/bin/kafka-exporter"]

# Proxy on :8000 in front of the API gateway, metrics on :9464.
FROM runtime AS gateway-sidecar
COPY --from=build /out/gateway-sidecar /usr/local/bin/gateway-sidecar
EXPOSE 8000 9464
ENTRYPOINT ["/usr/local/bin/gateway-sidecar"]
