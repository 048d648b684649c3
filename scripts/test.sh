#!/usr/bin/env bash
# Runs every test (xunit, then Pester end to end) and ends with one line: "N passed, N failed".
# With CI=true, a BPF test that cannot run is a failure, never a skip.
set -uo pipefail
# The end-to-end tests attach real probes: they need root.
if [ "$(id -u)" -ne 0 ]; then
    exec sudo --preserve-env=CI,PATH bash "$0" "$@"
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
results="$repo/artifacts/test-results"
rm -rf "$results" && mkdir -p "$results"

bash scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
if ! dotnet build utrace.sln -c Release -nologo -clp:ErrorsOnly -v:quiet; then
    echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

echo "== xunit"
dotnet test tests/Utrace.Tests/Utrace.Tests.csproj -c Release --no-build -nologo \
    --logger "trx;LogFileName=xunit.trx" --results-directory "$results" --logger "console;verbosity=normal"
read -r x_passed x_failed x_skipped < <(python3 - "$results/xunit.trx" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    c = ET.parse(sys.argv[1]).getroot().find('.//{*}Counters')
    total = int(c.get('total')); passed = int(c.get('passed')); failed = int(c.get('failed')) + int(c.get('error', 0))
    print(passed, failed + (0 if total else 1), total - passed - failed)
except Exception:
    print(0, 1, 0)
PY
)

echo "== Pester"
pester=$(find "${NUGET_PACKAGES:-$HOME/.nuget/packages}/pester/6.2.0/tools" -name Pester.psd1 2>/dev/null | head -1)
pwsh -NoProfile -File tests/pester/Invoke-Tests.ps1 -PesterPath "$pester" -ResultFile "$results/pester.txt"
read -r p_passed p_failed p_skipped < "$results/pester.txt" 2>/dev/null || { p_passed=0; p_failed=1; p_skipped=0; }

passed=$((x_passed + p_passed))
failed=$((x_failed + p_failed))
skipped=$((x_skipped + p_skipped))
if [ "${CI:-}" = true ] && [ "$skipped" -gt 0 ]; then
    echo "CI: $skipped skipped tests count as failures"
    failed=$((failed + skipped)); skipped=0
fi
echo "xunit: $x_passed passed, $x_failed failed, $x_skipped skipped; Pester: $p_passed passed, $p_failed failed, $p_skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
