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
# libgssapi-krb5-2: MIT Kerberos's GSSAPI library and its dependencies, copied into the
# kafka-exporter image below (the binary does not link it: it is opened at run time, only for
# --sasl.mechanism=gssapi).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libgssapi-krb5-2 \
 && rm -rf /var/lib/apt/lists/*
# .dockerignore keeps the context to Cargo.toml, Cargo.lock and crates/.
COPY . .
RUN cargo build --release --locked -p node-exporter -p kafka-exporter -p gateway-sidecar \
 && mkdir -p /out/gssapi \
 && cp target/release/node-exporter target/release/kafka-exporter target/release/gateway-sidecar /out/ \
 && libdir="/usr/lib/$(gcc -dumpmachine)" \
 && for l in libgssapi_krb5.so.2 libkrb5.so.3 libk5crypto.so.3 libkrb5support.so.0 libcom_err.so.2 libkeyutils.so.1; do \
      cp -L "$libdir/$l" /out/gssapi/; \
    done

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
# MIT's GSSAPI library and its five dependencies (1.5 MB; distroless has glibc, with libresolv,
# but none of these), in /usr/lib, a directory the dynamic loader always searches, so that
# --sasl.mechanism=gssapi finds libgssapi_krb5.so.2. Mount a krb5.conf and name it with
# --sasl.kerberos-config-path (or KRB5_CONFIG); there is no /etc/krb5.conf in the image.
COPY --from=build /out/gssapi/ /usr/lib/
EXPOSE 9308
ENTRYPOINT ["/usr/local/bin/kafka-exporter"]

# Proxy on :8000 in front of the API gateway, metrics on :9464.
FROM runtime AS gateway-sidecar
COPY --from=build /out/gateway-sidecar /usr/local/bin/gateway-sidecar
EXPOSE 8000 9464
ENTRYPOINT ["/usr/local/bin/gateway-sidecar"]
