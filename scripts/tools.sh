# Installs the build tools itemserve needs, only where missing.
# Sourced by scripts/run and scripts/test. Every tool comes from a package
# registry (crates.io, npm, Debian); nothing is downloaded from a web site,
# which is why cargo-leptos's own downloads of wasm-bindgen and wasm-opt are
# replaced by the installs below.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
CARGO_LEPTOS_VERSION="0.3.10"
BINARYEN_VERSION="123.0.0"
ESBUILD_VERSION="0.28.2"
LIGHTNINGCSS_VERSION="1.33.0"
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

apt_install() {
    if ! command -v apt-get >/dev/null; then
        echo "error: $* missing and apt-get is not available; install it by hand" >&2
        exit 1
    fi
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    if [ -z "${APT_UPDATED:-}" ]; then
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Build tools are compiled once per machine and then run for seconds, so
# they are compiled with light optimisation (level $TOOL_OPT_LEVEL, default
# 1), no LTO and many codegen units: the install, which the user waits
# for, gets shorter, and the tools run hardly slower (figures in
# docs/benchmarks.md).
install_tool() {
    CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_OPT_LEVEL="${TOOL_OPT_LEVEL:-1}" \
        cargo install "$@"
}

ensure_rust() {
    command -v cargo >/dev/null || { echo "error: cargo not found; install Rust with rustup" >&2; exit 1; }
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        say "adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
    # The release bundle compiles the standard library itself (xtask/src/bundle.rs).
    if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
        say "adding the rust-src component"
        rustup component add rust-src
    fi
}

# The CLI must match the wasm-bindgen crate that Cargo.lock pins.
ensure_wasm_bindgen() {
    local want
    want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")"
    if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
        say "installing wasm-bindgen-cli $want (a minute or so, once)"
        # Unoptimised: it installs much faster than at level 1, and its slower
        # run on the bundle still takes only a moment (figures in
        # docs/benchmarks.md).
        # Not --locked: its lock file pins a crate version the registry here lacks.
        TOOL_OPT_LEVEL=0 install_tool wasm-bindgen-cli --version "$want" --force
    fi
}

ensure_node() {
    if ! command -v npm >/dev/null; then
        say "installing Node.js and npm"
        apt_install nodejs npm
    fi
}

# The site's other tools ship as binaries in npm packages: wasm-opt shrinks
# the WASM, esbuild minifies the script, lightningcss the stylesheet.
ensure_npm_tools() {
    ensure_node
    local packages=("binaryen@$BINARYEN_VERSION" "esbuild@$ESBUILD_VERSION" "lightningcss-cli@$LIGHTNINGCSS_VERSION")
    if ! cmp -s <(printf '%s\n' "${packages[@]}") "$TOOLS/.npm-installed" 2>/dev/null; then
        say "installing wasm-opt, esbuild and lightningcss (npm, seconds)"
        mkdir -p "$TOOLS"
        npm install --prefix "$TOOLS" --no-audit --no-fund --silent "${packages[@]}"
        printf '%s\n' "${packages[@]}" >"$TOOLS/.npm-installed"
    fi
}

# What `cargo xtask build` needs for the release site.
ensure_site_tools() {
    ensure_rust
    ensure_wasm_bindgen
    ensure_npm_tools
}

# cargo-leptos, for development (`cargo leptos watch`); the release build
# does not need it.
ensure_cargo_leptos() {
    ensure_site_tools
    if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
        say "installing cargo-leptos $CARGO_LEPTOS_VERSION (a quarter of an hour or so, once)"
        install_tool cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
    fi
}

# The release server and site (target/release/itemserve, target/site).
build_release() {
    ensure_site_tools
    cargo xtask build
}

# A Python environment for the tests that drive the server through Python
# clients (the official Triton client); packages from PyPI.
ensure_python_tests() {
    local venv="$TOOLS/venv" wanted="$ROOT/tests/requirements.txt"
    if ! cmp -s "$wanted" "$venv/.installed" 2>/dev/null; then
        say "installing the Python test tools (tritonclient, pytest, schemathesis) into .tools/venv"
        command -v python3 >/dev/null || apt_install python3 python3-venv
        python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$venv"; }
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$wanted"
        cp "$wanted" "$venv/.installed"
    fi
}

# A free TCP port on the loopback interface.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts target/debug/itemserve on a fresh temporary database at
# 127.0.0.1:$1 and waits until it is ready; its pid goes in SERVER_PID.
start_debug_server() {
    start_server "$ROOT/target/debug/itemserve" "$1"
}

# Starts BINARY on PORT with a fresh database; SERVER_PID names it.
start_server() {
    local binary="$1" port="$2" data
    data="$(mktemp -d)"
    LEPTOS_SITE_ADDR="127.0.0.1:$port" DATABASE_URL="sqlite://$data/items.db" RUST_LOG=warn \
        "$binary" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "error: the server did not start" >&2; exit 1; }
        sleep 0.2
    done
    echo "error: the server was not ready within 20 s" >&2
    exit 1
}

# Whether a PostgreSQL server accepts TCP connections at the host and port
# of the URL in $1 (postgres://user@host:port/database).
postgres_reachable() {
    local hostport host port
    hostport="${1#*://}"
    hostport="${hostport#*@}"
    hostport="${hostport%%/*}"
    host="${hostport%%:*}"
    port="${hostport##*:}"
    [ "$port" = "$hostport" ] && port=5432
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

ensure_chromium() {
    if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
        say "installing Debian's Chromium for the browser tests"
        apt_install chromium
    fi
}

ensure_playwright() {
    ensure_node
    ensure_chromium
    if [ ! -x "$ROOT/end2end/node_modules/.bin/playwright" ]; then
        say "installing Playwright (npm ci in end2end/)"
        (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --silent)
    fi
}
