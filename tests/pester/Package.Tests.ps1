# The module as users get it: built into a clean folder, packed and published with PSResourceGet,
# installed into a fresh scope with Install-PSResource, imported by name, and tracing.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $version = (Import-PowerShellDataFile (Join-Path $repo 'Utrace.psd1')).ModuleVersion
    $out = Join-Path $TestDrive 'out'
    & (Join-Path $repo 'scripts/build-module.ps1') -NoBuild -OutputPath $out | Out-Null
    $moduleDir = Join-Path $out "module/Utrace/$version"

    # A fresh scope: a HOME of its own, so CurrentUser modules and PSResourceGet's repository list start empty.
    $fakeHome = New-Item -ItemType Directory (Join-Path $TestDrive 'home')
    $demo = Join-Path $TestDrive 'demo'
    cc -O0 -o $demo (Join-Path $repo 'examples/demo.c')
    $throws = Join-Path $script:FixtureBin 'gcc-O2-pie/throws'
    $script = {
        param($Packages, $Demo, $Throws)
        $ErrorActionPreference = 'Stop'
        # Only this scope's modules and PowerShell's own: a Utrace installed for all users by
        # scripts/setup.sh must not be the one found.
        $env:PSModulePath = (Join-Path $HOME '.local/share/powershell/Modules') + [IO.Path]::PathSeparator + (Join-Path $PSHOME 'Modules')
        Register-PSResourceRepository -Name Local -Uri $Packages -Trusted
        Install-PSResource Utrace -Repository Local -Scope CurrentUser
        $installed = (Get-Module Utrace -ListAvailable).ModuleBase
        $modeBefore = (Get-Item (Join-Path $installed 'bin/utrace-launch')).UnixMode
        Import-Module Utrace
        $demoEvents = Start-UTrace -Command $Demo
        $throwsEvents = Start-UTrace -Command $Throws
        $throwsExit = $LASTEXITCODE
        # DuckDB's native library, loaded from the installed module's folder.
        $trace = Join-Path $HOME 'demo.arrow'
        Start-UTrace -Command $Demo -OutFile $trace | Out-Null
        $queried = Invoke-UTraceQuery 'SELECT function, count(*) AS calls FROM calls GROUP BY function' $trace
        [pscustomobject]@{
            ModuleBase     = (Get-Module Utrace).ModuleBase
            LauncherBefore = $modeBefore
            LauncherAfter  = (Get-Item (Join-Path $installed 'bin/utrace-launch')).UnixMode
            GuardAfter     = (Get-Item (Join-Path $installed 'bin/utrace-guard')).UnixMode
            DemoCalls      = @($demoEvents | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" })
            ThrowsCalls    = @($throwsEvents | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" })
            ThrowsExit     = $throwsExit
            QueriedCalls   = @($queried | Sort-Object function | ForEach-Object { "$($_.function)=$($_.calls)" })
        } | ConvertTo-Json -Compress
    }
    $env_ = @{ HOME = $fakeHome.FullName; XDG_DATA_HOME = $null; XDG_CONFIG_HOME = $null; XDG_CACHE_HOME = $null }
    $saved = @{}
    foreach ($name in $env_.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $env_[$name]) }
    try {
        $roundTrip = Join-Path $TestDrive 'round-trip.ps1'
        Set-Content $roundTrip $script.ToString()
        $json = pwsh -NoProfile -File $roundTrip (Join-Path $out 'packages') $demo $throws
    }
    finally {
        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }
    # The traced programs' own output comes first (they keep the console), the result last.
    $programOutput = $json | Select-Object -SkipLast 1
    $result = $json | Select-Object -Last 1 | ConvertFrom-Json

    # The oracle: the same traces with the module built in the repository.
    function Get-CallCount([string] $Program) {
        Start-UTrace -Command $Program | Group-Object Function | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Count)" }
    }
    $demoCalls = Get-CallCount $demo
    $throwsCalls = Get-CallCount $throws
}

Describe 'The published module' {
    It 'is a clean folder: manifest, format and types files, LICENSE, assemblies, native helpers, DuckDB, en-US help' {
        $files = Get-ChildItem $moduleDir -Recurse -File | ForEach-Object { [IO.Path]::GetRelativePath($moduleDir, $_.FullName) } | Sort-Object
        # Parquet.Net brings its own (CommunityToolkit, K4os LZ4, RecyclableMemoryStream, Snappier, ZstdSharp).
        $files | Should -Be @('bin/Apache.Arrow.dll', 'bin/Apache.Arrow.Scalars.dll', 'bin/CommunityToolkit.HighPerformance.dll', 'bin/DuckDB.NET.Bindings.dll', 'bin/DuckDB.NET.Data.dll',
            'bin/ELFSharp.dll', 'bin/Google.Protobuf.dll', 'bin/Iced.dll', 'bin/K4os.Compression.LZ4.dll', 'bin/libduckdb.so', 'bin/Microsoft.IO.RecyclableMemoryStream.dll',
            'bin/Parquet.dll', 'bin/Snappier.dll',
            'bin/utrace-calibrate', 'bin/utrace-guard', 'bin/utrace-launch', 'bin/Utrace.Native.dll', 'bin/Utrace.PowerShell.deps.json', 'bin/Utrace.PowerShell.dll', 'bin/ZstdSharp.dll',
            'en-US/about_Utrace_Capture.help.txt', 'en-US/about_Utrace_Filters.help.txt', 'en-US/about_Utrace_Limitations.help.txt',
            'en-US/about_Utrace_Query.help.txt', 'en-US/about_Utrace_Remoting.help.txt', 'en-US/about_Utrace_Reports.help.txt', 'en-US/about_Utrace_ReturnModes.help.txt',
            'en-US/about_Utrace_TraceFiles.help.txt', 'en-US/about_Utrace.help.txt', 'en-US/Utrace.PowerShell.dll-Help.xml',
            'LICENSE', 'Utrace.format.ps1xml', 'Utrace.psd1', 'Utrace.types.ps1xml')
    }

    It 'has a manifest with license, project, release notes, and says x86-64 Linux on PowerShell 7.4+ (Core)' {
        $manifest = Test-ModuleManifest (Join-Path $moduleDir 'Utrace.psd1')
        $manifest.Version | Should -Be $version
        $manifest.LicenseUri | Should -Not -BeNullOrEmpty
        $manifest.ProjectUri | Should -Not -BeNullOrEmpty
        $manifest.ReleaseNotes | Should -Match 'x86-64 Linux'
        $manifest.Copyright | Should -Match 'MIT'
        $manifest.ProcessorArchitecture | Should -Be 'Amd64'
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $manifest.PowerShellVersion | Should -Be '7.4'
        Get-Content (Join-Path $moduleDir 'LICENSE') -TotalCount 1 | Should -Be 'MIT License'
    }

    It 'is a .nupkg that PSResourceGet published' {
        Join-Path $out "packages/Utrace.$version.nupkg" | Should -Exist
    }

    It 'installs into a fresh scope with Install-PSResource and imports by name from there' {
        $result.ModuleBase | Should -Be (Join-Path $fakeHome.FullName ".local/share/powershell/Modules/Utrace/$version")
    }

    It 'loses the helpers'' exec bit in the package, and Utrace restores it before starting them' {
        $result.LauncherBefore | Should -Be '-rw-r--r--'
        $result.LauncherAfter | Should -Be '-rwxr-xr-x'
        $result.GuardAfter | Should -Be '-rwxr-xr-x'
    }

    It 'traces the demo through the installed launcher, as the module built here does' {
        $result.DemoCalls | Should -Contain 'main=1'
        $result.DemoCalls | Should -Contain 'save_results=1'
        $result.DemoCalls | Should -Be $demoCalls
        $result.QueriedCalls | Should -Be $demoCalls
        $programOutput | Should -Contain (& $demo)
    }

    It 'traces the C++ throws fixture through the installed exception guard, with its untraced output and exit code' {
        $result.ThrowsCalls | Should -Contain 'main=1'
        $result.ThrowsCalls | Should -Be $throwsCalls
        $programOutput | Should -Contain (& $throws)
        $result.ThrowsExit | Should -Be 0
    }
}
