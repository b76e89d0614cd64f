# syntax=docker/dockerfile:1
# Two stages: build the release server and WASM bundle, then ship only the
# binary and the site folder on a slim Debian.
#
# The build stage needs a Rust image with cargo-leptos, wasm-bindgen-cli and
# wasm-opt available (see scripts/tools.sh, which installs them).

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
COPY . .
RUN bash -c 'source scripts/tools.sh && ensure_rust && ensure_wasm_opt && cargo leptos build --release --precompress --split'

FROM debian:bookworm-slim
RUN useradd --system --home /app --create-home itemserve
WORKDIR /app
COPY --from=build /src/target/release/itemserve /app/itemserve
# The bundle's content hashes: the server reads them beside its binary.
COPY --from=build /src/target/release/hash.txt /app/hash.txt
COPY --from=build /src/target/site /app/site
COPY --from=build /src/models /app/models
USER itemserve
ENV LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_ENV=PROD \
    DATABASE_URL=sqlite:///app/data/itemserve.db \
    MODELS_DIR=/app/models \
    RUST_LOG=info
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=2s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000"]
CMD ["/app/itemserve"]
