# syntax=docker/dockerfile:1
# Two stages: build the release server and the WASM bundle, then ship only
# the binary, the site folder and the models on a slim Debian.
#
#   docker build -t itemserve .
#   docker run -p 8080:8080 -v itemserve-data:/app/data itemserve
#
# The build stage needs Rust (1.95 tested); the wasm32 target, the
# rust-src component (the bundle compiles the standard library) and the
# build tools (wasm-bindgen-cli, and wasm-opt, esbuild and lightningcss
# from npm) are installed by scripts/tools.sh when the image lacks them.
# Where no image registry can be reached, scripts/container builds both
# base images locally and passes RUST_IMAGE.
ARG RUST_IMAGE=rust:1.95-bookworm
FROM ${RUST_IMAGE} AS build
WORKDIR /src
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
# The build tools first, in a layer of their own: a change to the code
# does not install them again (the lock file names the wasm-bindgen CLI).
COPY scripts/tools.sh scripts/tools.sh
COPY Cargo.lock Cargo.lock
RUN bash -c 'source scripts/tools.sh && ensure_site_tools'
# Only what the build reads, so that editing docs, tests or deployment
# files does not rebuild the binary.
COPY Cargo.toml Cargo.toml
COPY .cargo .cargo
COPY src src
COPY style style
COPY public public
COPY migrations migrations
COPY vendor vendor
COPY xtask xtask
RUN bash -c 'source scripts/tools.sh && cargo xtask build'

FROM debian:bookworm-slim
RUN useradd --system --home /app --create-home --uid 10001 itemserve \
    && mkdir -p /app/data && chown itemserve /app/data
WORKDIR /app
COPY --from=build /src/target/release/itemserve /app/itemserve
# The bundle's content hashes: the server reads them beside its binary.
COPY --from=build /src/target/release/hash.txt /app/hash.txt
COPY --from=build /src/target/site /app/site
COPY models /app/models
USER itemserve
ENV LEPTOS_SITE_ADDR=0.0.0.0:8080 \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_ENV=PROD \
    DATABASE_URL=sqlite:///app/data/itemserve.db \
    MODELS_DIR=/app/models \
    RUST_LOG=info
VOLUME ["/app/data"]
EXPOSE 8080
# Liveness through /healthz on the port the server listens on, with bash
# alone (the image has no curl).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["bash", "-c", \
    "exec 3<>/dev/tcp/127.0.0.1/${LEPTOS_SITE_ADDR##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
CMD ["/app/itemserve"]
