#!/usr/bin/env bash
# Sets Utrace up on this machine: installs what is missing, builds the module, makes
# `Import-Module Utrace` work for every user (sudo pwsh included), and traces a demo.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bash scripts/install-deps.sh

log "building"
dotnet build utrace.sln -c Release -nologo -clp:ErrorsOnly -v:quiet

log "packing the module (artifacts/module, artifacts/packages)"
pwsh -NoProfile -File scripts/build-module.ps1 -NoBuild > /dev/null

# Installed as users get it from a gallery: Install-PSResource from the local package folder,
# for all users (/usr/local/share/powershell/Modules), so sudo pwsh finds it too.
modules=/usr/local/share/powershell/Modules
if [ -L "$modules/Utrace" ]; then as_root rm "$modules/Utrace"; fi   # the link older set-ups made
as_root pwsh -NoProfile -Command '
    $ErrorActionPreference = "Stop"
    Unregister-PSResourceRepository -Name UtraceLocal -ErrorAction SilentlyContinue
    Register-PSResourceRepository -Name UtraceLocal -Uri ([IO.Path]::GetFullPath("artifacts/packages")) -Trusted
    Install-PSResource Utrace -Repository UtraceLocal -Scope AllUsers -Reinstall
'
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
