#!/usr/bin/env bash
# Sets Utrace up on this machine: installs what is missing, builds the module, makes
# `Import-Module Utrace` work for every user (sudo pwsh included), and traces a demo.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

bash scripts/install-deps.sh

log "building"
dotnet build utrace.sln -c Release -nologo -clp:ErrorsOnly -v:quiet

# PowerShell's all-users module path on Linux; a link keeps it current with every build.
modules=/usr/local/share/powershell/Modules
as_root mkdir -p "$modules"
if [ "$(readlink -f "$modules/Utrace" 2>/dev/null)" != "$repo" ]; then
    as_root rm -rf "$modules/Utrace"
    as_root ln -s "$repo" "$modules/Utrace"
fi
log "module installed: Import-Module Utrace"

log "demo: tracing examples/demo"
mkdir -p examples/bin
cc -O0 -o examples/bin/demo examples/demo.c
as_root pwsh -NoProfile -Command '
    Import-Module Utrace
    $events = Start-UTrace -Command ./examples/bin/demo
    $events | Group-Object Function | Sort-Object Count -Descending | Select-Object Count, Name | Format-Table -AutoSize
    "Calls over 1 ms:"
    $events | Where-Object Duration -gt 1ms | Format-Table -AutoSize
'
log "ready: sudo pwsh, then Import-Module Utrace"
