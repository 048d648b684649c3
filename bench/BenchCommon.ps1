# What bench/attach-detach.ps1 and bench/overhead.ps1 share: preconditions, the private module
# copy in a temp dir, statistics, and the parts of the results Markdown both write.
# Dot-sourced by both: . (Join-Path $PSScriptRoot 'BenchCommon.ps1'). Dot-sourcing runs this in
# the calling script's scope, so the settings below hold for the whole script.

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function Assert-BenchHost {
    <#
    .SYNOPSIS
        Throws unless this is Linux, we are root and every tool in -Tool is on PATH.
        -Packages is what the error message says to apt-get install; the root message names
        the script that calls this.
    #>
    param([string[]] $Tool, [string] $Packages)
    $caller = "bench/$(Split-Path $MyInvocation.PSCommandPath -Leaf)"
    if (-not $IsLinux) { throw 'This benchmark needs Linux (eBPF uprobes).' }
    if ((& id -u) -ne '0') { throw "Run as root: sudo pwsh $caller (or pwsh $caller when already root)." }
    foreach ($name in $Tool) {
        if (-not (Get-Command $name -CommandType Application -ErrorAction SilentlyContinue)) {
            throw "$name is missing (apt-get install $Packages)."
        }
    }
}

function New-BenchWorkspace {
    <#
    .SYNOPSIS
        Creates the temp dir <Prefix>-<pid>, copies the built module into it and imports that
        copy, so that a rebuild of bin/ during the run cannot change what is measured.
        Returns the temp dir's path.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    param([string] $Prefix)
    $repo = Split-Path $PSScriptRoot -Parent
    if (-not (Test-Path (Join-Path $repo 'bin/Utrace.PowerShell.dll'))) {
        throw "Utrace is not built: cd $repo && dotnet build utrace.sln -c Release"
    }
    $temp = Join-Path ([IO.Path]::GetTempPath()) "$Prefix-$PID"
    if (-not $PSCmdlet.ShouldProcess($temp, 'Create the bench workspace')) { return }
    $null = New-Item -ItemType Directory -Path $temp -Force
    $moduleCopy = Join-Path $temp 'module'
    $null = New-Item -ItemType Directory -Path $moduleCopy
    Copy-Item (Join-Path $repo 'Utrace.psd1'), (Join-Path $repo '*.ps1xml') $moduleCopy
    Copy-Item (Join-Path $repo 'bin') $moduleCopy -Recurse
    if (Test-Path (Join-Path $repo 'en-US')) { Copy-Item (Join-Path $repo 'en-US') $moduleCopy -Recurse }
    Import-Module (Join-Path $moduleCopy 'Utrace.psd1') -Force
    $temp
}

function Remove-BenchWorkspace {
    <#
    .SYNOPSIS
        Removes the module copy and the temp dir made by New-BenchWorkspace, or with -Keep
        leaves them and says where they are.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    param([string] $Path, [switch] $Keep)
    if ($Keep) { Write-Information "Programs kept in $Path" -InformationAction Continue }
    elseif ($PSCmdlet.ShouldProcess($Path, 'Remove the bench workspace')) {
        Remove-Module Utrace -ErrorAction SilentlyContinue
        Remove-Item $Path -Recurse -Force -ErrorAction SilentlyContinue
    }
}

function Build-BenchFloor {
    <#
    .SYNOPSIS
        Compiles the floor of overhead.ps1 and throughput.ps1 into -Directory: overhead-floor.bpf.c
        with clang and its loader overhead-floor.c (libbpf >= 1.3) with gcc. Returns the paths
        of the BPF object (Object) and the loader (Loader).
    #>
    param([string] $Directory)
    $object = Join-Path $Directory 'overhead-floor.bpf.o'
    $loader = Join-Path $Directory 'overhead-floor'
    & clang -O2 -g -target bpf "-I/usr/include/$((& gcc -dumpmachine).Trim())" -c (Join-Path $PSScriptRoot 'overhead-floor.bpf.c') -o $object
    if ($LASTEXITCODE -ne 0) { throw 'clang failed on bench/overhead-floor.bpf.c' }
    & gcc -O2 -Wall -o $loader (Join-Path $PSScriptRoot 'overhead-floor.c') -lbpf
    if ($LASTEXITCODE -ne 0) { throw 'gcc failed on bench/overhead-floor.c (libbpf-dev >= 1.3 needed)' }
    [pscustomobject]@{ Object = $object; Loader = $loader }
}

function Write-RoundLine {
    <#
    .SYNOPSIS
        Writes a round's console line; in red, followed by its problems, when the round failed
        (-Result has Ok and Problems).
    #>
    param([string] $Line, $Result)
    if ($Result.Ok) { Write-Information $Line -InformationAction Continue }
    else { Write-Warning "$Line`n  ROUND FAILED: $($Result.Problems)" }
}

function Get-LoadAverage {
    <#
    .SYNOPSIS
        The 1, 5 and 15 minute load averages from /proc/loadavg, as one string.
    #>
    (Get-Content /proc/loadavg).Split(' ')[0..2] -join ' '
}

function Get-Statistic {
    <#
    .SYNOPSIS
        Median, Min, Max and Count of -Values; $null when there are none.
    #>
    param([double[]] $Values)
    $sorted = @($Values | Sort-Object)
    $n = $sorted.Count
    if ($n -eq 0) { return $null }
    $median = if ($n % 2) { $sorted[($n - 1) / 2] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
    [pscustomobject]@{ Median = $median; Min = $sorted[0]; Max = $sorted[-1]; Count = $n }
}

function Format-Figure {
    <#
    .SYNOPSIS
        A measured value for the results: no decimals from 100 up (either sign), one below.
    #>
    param([double] $Value)
    if ([math]::Abs($Value) -ge 100) { '{0:N0}' -f $Value } else { '{0:N1}' -f $Value }
}

function ConvertTo-ResultMarkdown {
    <#
    .SYNOPSIS
        Makes the start of the results Markdown from the run's facts: the "# <Title> benchmark results" heading and the Date,
        Kernel, Machine (with memory when -WithMemory) and Utrace lines, which end with -Tools.
        Call it when the run is over: it reads the load average after the run and the time taken.
    #>
    param([string] $Title, [datetime] $StartedAt, [string] $LoadBefore, [string] $Tools, [switch] $WithMemory)
    $elapsed = (Get-Date) - $StartedAt
    $loadAfter = Get-LoadAverage
    $cpu = ((Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -split ':', 2)[1].Trim()
    $memory = if ($WithMemory) {
        ", $([math]::Round(([double]((Get-Content /proc/meminfo | Select-Object -First 1) -split '\s+')[1]) / 1MB, 1)) GiB"
    }
    else { '' }
    $repo = Split-Path $PSScriptRoot -Parent
    $commit = & git -C $repo rev-parse --short HEAD 2>$null
    # Results files and bench/README.md change while bench/run.ps1 runs; they change nothing measured.
    $dirty = if (& git -C $repo status --porcelain --untracked-files=no -- . ':!bench/results' ':!bench/README.md' 2>$null) { ' (working tree had uncommitted changes)' } else { '' }

    $md = [Text.StringBuilder]::new()
    $null = $md.AppendLine("# $Title benchmark results").AppendLine()
    $null = $md.AppendLine("- Date: $($StartedAt.ToString('yyyy-MM-dd HH:mm')) (run took $([math]::Round($elapsed.TotalMinutes, 1)) min)")
    $null = $md.AppendLine("- Kernel: $(& uname -r)")
    $null = $md.AppendLine("- Machine: $([Environment]::ProcessorCount) cores ($cpu)$memory; load average $LoadBefore before, $loadAfter after")
    $null = $md.AppendLine("- Utrace: commit $commit$dirty; PowerShell $($PSVersionTable.PSVersion); $Tools")
    $md
}

function Add-FailedRound {
    <#
    .SYNOPSIS
        Appends, when there are any, the "**N round(s) FAILED**" paragraph with one bullet per
        line of -Failures (each naming a failed round and its problems).
    #>
    param([Text.StringBuilder] $Markdown, [string[]] $Failures)
    if ($Failures.Count) {
        $null = $Markdown.AppendLine().AppendLine("**$($Failures.Count) round(s) FAILED** (left out of the table above):")
        foreach ($failure in $Failures) { $null = $Markdown.AppendLine("- $failure") }
    }
}

function Add-RoundTable {
    <#
    .SYNOPSIS
        Appends a results file's two tables: the median (min-max) of each -Columns value (header ->
        property) over the rounds that passed (-Rows), after the -Lead cells (header -> value); the
        failed rounds; then "## Every round" with every round of -All. -Format (column property,
        value) formats a value.
    #>
    param([Text.StringBuilder] $Markdown, [Collections.Specialized.OrderedDictionary] $Lead, [Collections.Specialized.OrderedDictionary] $Columns,
        [object[]] $Rows, [object[]] $All, [string[]] $Failures, [scriptblock] $Format)
    $null = $Markdown.AppendLine("| $(@($Lead.Keys) + @($Columns.Keys) -join ' | ') |")
    $null = $Markdown.AppendLine("|$(' --- |' * ($Lead.Count + $Columns.Count))")
    if ($Rows) {
        $cells = foreach ($column in $Columns.Values) {
            $s = Get-Statistic $Rows.$column
            '{0} ({1}-{2})' -f (& $Format $column $s.Median), (& $Format $column $s.Min), (& $Format $column $s.Max)
        }
        $null = $Markdown.AppendLine("| $(@($Lead.Values) + @($cells) -join ' | ') |")
    }
    Add-FailedRound $Markdown $Failures
    $null = $Markdown.AppendLine().AppendLine('## Every round').AppendLine()
    $null = $Markdown.AppendLine("| round | ok | $($Columns.Keys -join ' | ') |")
    $null = $Markdown.AppendLine("| --- | --- |$(' --- |' * $Columns.Count)")
    foreach ($row in $All) {
        $null = $Markdown.AppendLine("| $($row.Round) | $(if ($row.Ok) { 'yes' } else { 'FAILED' }) | $(@(foreach ($column in $Columns.Values) { & $Format $column $row.$column }) -join ' | ') |")
    }
}

function Save-Result {
    <#
    .SYNOPSIS
        Writes the results Markdown to -OutFile (creating its directory) and to the console,
        then says in red how many rounds failed, if any did.
    #>
    param([Text.StringBuilder] $Markdown, [string] $OutFile, [int] $FailedCount)
    $outDir = Split-Path $OutFile -Parent
    if ($outDir) { $null = New-Item -ItemType Directory -Path $outDir -Force }
    [IO.File]::WriteAllText($OutFile, $Markdown.ToString())
    $Markdown.ToString()
    Write-Information "Written to $OutFile" -InformationAction Continue
    if ($FailedCount) { Write-Warning "$FailedCount round(s) FAILED: see above." }
}
