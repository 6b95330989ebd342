# syntax=docker/dockerfile:1
# auditlens: the `auditlens` binary on Debian bookworm, running as a non-root user.
#
#   docker build -t auditlens .
#   docker run --rm -p 9765:9765 -v auditlens-data:/var/lib/auditlens \
#     -v "$PWD/tokens.csv:/etc/auditlens/tokens.csv:ro" -e AUDITLENS_TOKENS_FILE=/etc/auditlens/tokens.csv \
#     auditlens
#
# Off loopback `serve` refuses to start without authentication: give a tokens file
# (AUDITLENS_TOKENS_FILE), or TLS (AUDITLENS_TLS_CERT, AUDITLENS_TLS_KEY, AUDITLENS_CLIENT_CA).
# The Helm chart in deploy/helm/auditlens runs this image.

ARG RUST_VERSION=1.94

FROM rust:${RUST_VERSION}-bookworm AS build
# librdkafka (bundled by the rdkafka crate) builds against OpenSSL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin auditlens \
    && install -m 0755 target/release/auditlens /usr/local/bin/auditlens

FROM debian:bookworm-slim
# libssl3 and zlib for librdkafka; CA certificates for Kafka TLS, alert webhooks and S3.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/auditlens /usr/local/bin/auditlens
# The rule pack (detections/, with lists/ and views/ beside it), the saved investigations
# (forensics/) and the coverage checks.
COPY queries/ /usr/share/auditlens/queries/
RUN mkdir -p /var/lib/auditlens && chown 65532:65532 /var/lib/auditlens
# Defaults for every command in the image (`serve`, and `auditlens query` through kubectl exec).
ENV AUDITLENS_DATA_DIR=/var/lib/auditlens \
    AUDITLENS_RULES=/usr/share/auditlens/queries/detections \
    AUDITLENS_QUERIES=/usr/share/auditlens/queries/forensics
USER 65532:65532
WORKDIR /var/lib/auditlens
EXPOSE 9765
ENTRYPOINT ["/usr/local/bin/auditlens"]
CMD ["serve", "--listen", "0.0.0.0:9765", "--data-dir", "/var/lib/auditlens"]
