#!/usr/bin/env bash
# Installs what Utrace needs to build and test, only what is missing.
# Works as root (no sudo needed) or as a user with sudo. Debian 12 and Ubuntu 24.04.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

. /etc/os-release
packages=(clang llvm libbpf-dev libelf-dev gcc g++ make sudo sqlite3 python3 binutils)
# The fleet test runs PowerShell remoting over SSH to a private sshd on the loopback.
packages+=(openssh-server openssh-client)
# The flame-graph test opens the SVG in a real browser.
command -v chromium >/dev/null || packages+=(chromium)
# The Perfetto test decodes the trace with protoc --decode_raw, a decoder Utrace did not write.
packages+=(protobuf-compiler)
# The runtimes tests trace real runtimes and tools: Go and Ruby fibers (their stacks move under
# return probes), Rust built with the distribution's rustc, Lua, Perl, CPython running its own
# regression suite, and bash running gawk, sqlite3 and git under -Follow.
packages+=(golang-go ruby rustc lua5.4 perl python3.11 libpython3.11-testsuite gawk git)
# The stack-switch test builds a program with OpenSSL's libcrypto and traces a real redis-server under redis-benchmark.
packages+=(libssl-dev redis-server redis-tools)
extra_release=()

# Debian 12 ships libbpf 1.1; multi-uprobe links need >= 1.3, which bookworm-backports has.
if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        log "adding bookworm-backports (for libbpf >= 1.3)"
        mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
        as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    extra_release=(-t bookworm-backports)
fi

libbpf_ok() {
    local v
    v=$(dpkg-query -W -f '${Version}' libbpf-dev 2>/dev/null | sed -E 's/^[0-9]+://') || return 1
    dpkg --compare-versions "$v" ge 1.3
}

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || ! libbpf_ok; then
    # Something is missing: the package lists may be empty (a fresh machine) or stale.
    log "apt-get update"
    as_root apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if ! libbpf_ok; then
        log "installing libbpf-dev >= 1.3 ${extra_release[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${extra_release[@]}" libbpf-dev libbpf1
    fi
fi

# node and npm run the tests that open a trace file with apache-arrow and our profiles in the speedscope app.
if ! command -v npm >/dev/null; then
    log "installing nodejs and npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
# Those readers (apache-arrow, nodejs-polars, DuckDB, speedscope), pinned by tests/node/package-lock.json.
node_dir="$(dirname "${BASH_SOURCE[0]}")/../tests/node"
if ! npm ls --prefix "$node_dir" --omit=dev >/dev/null 2>&1; then
    log "installing the node readers of the tests (npm ci in tests/node)"
    npm ci --prefix "$node_dir" --no-audit --no-fund >/dev/null
fi

if ! command -v dotnet >/dev/null; then
    echo "error: the .NET SDK 10 is required (https://learn.microsoft.com/dotnet/core/install/linux)" >&2
    exit 1
fi

# PowerShell 7.6.9 as a dotnet global tool, linked where a login shell and sudo find it.
tools_dir="$HOME/.dotnet/tools"
if [ ! -x "$tools_dir/pwsh" ]; then
    log "installing PowerShell 7.6.9 (dotnet tool)"
    dotnet tool install --global PowerShell --version 7.6.9 >/dev/null
fi
if [ "$(readlink -f /usr/local/bin/pwsh 2>/dev/null)" != "$(readlink -f "$tools_dir/pwsh")" ]; then
    as_root ln -sf "$tools_dir/pwsh" /usr/local/bin/pwsh
fi
log "dependencies ready: $(clang --version | head -1); libbpf $(dpkg-query -W -f '${Version}' libbpf-dev); pwsh $(pwsh -NoProfile -c '$PSVersionTable.PSVersion.ToString()')"
