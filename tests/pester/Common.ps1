# Shared by the Pester test files: the module, the fixtures, and whether BPF tests can run.
Import-Module (Join-Path $PSScriptRoot '../../Utrace.psd1') -Force
$script:FixtureBin = (Resolve-Path (Join-Path $PSScriptRoot '../fixtures/bin')).Path

function Get-FixtureVariant {
    foreach ($cc in 'gcc', 'clang') {
        foreach ($opt in 'O0', 'O2') {
            foreach ($pie in 'pie', 'nopie') {
                @{ Variant = "$cc-$opt-$pie"; Dir = Join-Path $script:FixtureBin "$cc-$opt-$pie" }
            }
        }
    }
}

# Starts the server fixture (or another that answers "ready", then "done" per line) with pipes on
# stdin and stdout and waits for its "ready".
function Start-ServerFixture {
    [CmdletBinding(SupportsShouldProcess)]
    param([string] $Path, [string[]] $ArgumentList = @())
    if (-not $PSCmdlet.ShouldProcess($Path, 'Start the server fixture')) { return }
    $info = [System.Diagnostics.ProcessStartInfo]::new($Path, $ArgumentList)
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($info)
    $process.StandardOutput.ReadLine() | Should -Be 'ready'
    $process
}

# Sends one request to the server fixture and waits until it is handled.
function Invoke-ServerRequest($Process, [int] $Count = 1) {
    for ($i = 0; $i -lt $Count; $i++) {
        $Process.StandardInput.WriteLine('request')
        $Process.StandardInput.Flush()
        $Process.StandardOutput.ReadLine() | Should -Be 'done'
    }
}

# The functions the C runtime's start files put in every program: those of an empty program, less main.
function Get-StartupFunctionName([string] $Directory) {
    $source = Join-Path $Directory 'empty.c'
    $program = Join-Path $Directory 'empty'
    Set-Content $source 'int main(void) { return 0; }'
    gcc -o $program $source
    nm --defined-only $program | Where-Object { $_ -match '^[0-9a-f]+ [tTW] (\S+)$' } | ForEach-Object { $Matches[1] } |
        Where-Object { $_ -ne 'main' }
}

# Runs a script block and returns the error record it ends with.
function Get-ErrorRecord([scriptblock] $Script) {
    # Start-UTrace reports a failure as a non-terminating error (a pipeline goes on): stop on it here.
    $ErrorActionPreference = 'Stop'
    try { & $Script } catch { return $_ }
    throw 'The command did not fail.'
}
