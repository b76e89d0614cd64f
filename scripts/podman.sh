# podman on a machine without a Docker engine or an image registry, for
# scripts/container and scripts/compose. Sourced after scripts/tools.sh.
#
# Settings that work on the 2-core build machines this project runs on:
# runc (crun fails on their cgroup setup), cgroupfs, overlay storage, no
# default ulimits (refused there). They go in config files of our own
# (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), so that podman-compose's own
# podman calls get them too. Base images are made locally when missing:
# debian:bookworm-slim with debootstrap from the Debian mirror apt already
# uses, and a Rust build image from it plus this machine's toolchain.

DEBIAN_IMAGE=localhost/debian:bookworm-slim
RUST_IMAGE=localhost/itemserve-rust:1.95
CONTAINER_WORK="${CONTAINER_WORK:-$ROOT/target/container}"
mkdir -p "$CONTAINER_WORK"

cat > "$CONTAINER_WORK/containers.conf" <<CONF
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
cat > "$CONTAINER_WORK/storage.conf" <<CONF
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
export CONTAINERS_CONF="$CONTAINER_WORK/containers.conf"
export CONTAINERS_STORAGE_CONF="$CONTAINER_WORK/storage.conf"
# Docker's image format, not OCI: only it keeps HEALTHCHECK.
export BUILDAH_FORMAT=docker

timed() {
    local label="$1" start=$SECONDS
    shift
    "$@"
    say "$label took $((SECONDS - start)) s"
}

# One check of a running deployment: a label, then a command that must pass.
check() {
    printf '  %-52s' "$1"
    shift
    if "$@"; then echo ok; else echo FAILED; exit 1; fi
}

ensure_podman() {
    # iptables: netavark, podman's network stack, needs it for bridge networks.
    if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null \
        || ! command -v iptables >/dev/null; then
        say "installing podman, runc, debootstrap and iptables (Debian packages)"
        apt_install podman runc debootstrap iptables netavark aardvark-dns
    fi
}

debian_mirror() {
    local mirror
    # The mirror that serves Debian's own suites (not security, not a
    # vendor's repository).
    mirror="$(grep -rhE '^[^#]*(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -oE 'https?://[^ ]*/debian/?( |$)' | tr -d ' ' | head -n1)"
    echo "${mirror:-http://deb.debian.org/debian}"
}

build_debian_image() {
    local root="$CONTAINER_WORK/bookworm"
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" "$(debian_mirror)" >/dev/null
    # This machine's trusted certificates: the package registries may be
    # reached through a TLS proxy with a certificate of its own.
    mkdir -p "$root/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    tar -C "$root" -c . | podman import - "$DEBIAN_IMAGE" >/dev/null
    rm -rf "$root"
}

# The Rust image: the Debian base, a C compiler for the crates that build C,
# and this machine's rustup toolchain and cargo home (with wasm-bindgen-cli
# already installed, and the crates already downloaded).
build_rust_image() {
    ensure_rust
    local context="$CONTAINER_WORK/rust-image"
    rm -rf "$context"
    mkdir -p "$context"
    cp -a "${RUSTUP_HOME:-$HOME/.rustup}" "$context/rustup"
    mkdir -p "$context/cargo"
    cp -a "${CARGO_HOME:-$HOME/.cargo}/bin" "$context/cargo/bin"
    cp -a "${CARGO_HOME:-$HOME/.cargo}/registry" "$context/cargo/registry"
    cp /etc/ssl/certs/ca-certificates.crt "$context/ca-certificates.crt"
    cat > "$context/Containerfile" <<CONF
FROM $DEBIAN_IMAGE
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev ca-certificates >/dev/null
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CONF
    podman build --network host -t "$RUST_IMAGE" "$context" >/dev/null
    rm -rf "$context"
}

# Both base images, each made only when missing.
ensure_base_images() {
    ensure_podman
    if ! podman image exists "$DEBIAN_IMAGE"; then
        timed "the base image $DEBIAN_IMAGE (debootstrap)" build_debian_image
    fi
    if ! podman image exists "$RUST_IMAGE"; then
        timed "the build image $RUST_IMAGE" build_rust_image
    fi
}

# Waits until `curl` gets an answer from URL $1 (up to $2 seconds).
wait_for() {
    local url="$1" seconds="${2:-60}"
    for _ in $(seq 1 $((seconds * 5))); do
        curl -fs "$url" -o /dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "error: $url did not answer within $seconds s" >&2
    return 1
}
