#!/usr/bin/env bash
# The whole benchmark in one command, from a clean clone: installs what Utrace and the
# benchmarks need (bpftrace, uftrace, redis-server, redis-tools from the distribution), builds,
# then runs bench/run.ps1 as root. Arguments go to bench/run.ps1 (-Quick, -Skip redis, ...).
# Writes bench/results/*.md and the benchmark table of bench/README.md.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash scripts/install-deps.sh

missing=()
for p in bpftrace uftrace redis-server redis-tools; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

log "building"
dotnet build utrace.sln -c Release -nologo -clp:ErrorsOnly -v:quiet

log "running bench/run.ps1 $*"
as_root pwsh -NoProfile -File bench/run.ps1 "$@"
