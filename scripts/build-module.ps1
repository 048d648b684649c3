<#
.SYNOPSIS
Builds the Utrace module folder (<OutputPath>/module/Utrace/<version>/) and its .nupkg
(<OutputPath>/packages/), published with PowerShell's own PSResourceGet.
.DESCRIPTION
The folder holds only what a user needs: the manifest, the format and types files, the
assemblies, the native helpers (utrace-launch, utrace-guard, utrace-calibrate), DuckDB's
library (libduckdb.so, for Invoke-UTraceQuery) and en-US help. The .nupkg is
published to a local file repository, the folder <OutputPath>/packages, which
Install-PSResource can install from (scripts/setup.sh does).
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # Where module/ and packages/ go; artifacts/ of the repository by default.
    [string] $OutputPath = (Join-Path $PSScriptRoot '../artifacts'),
    # Packs what bin/ already has instead of building first.
    [switch] $NoBuild
)
$ErrorActionPreference = 'Stop'
$repo = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
$OutputPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputPath)
$version = (Import-PowerShellDataFile (Join-Path $repo 'Utrace.psd1')).ModuleVersion
$moduleDir = Join-Path $OutputPath "module/Utrace/$version"
$packageDir = Join-Path $OutputPath 'packages'

if (-not $PSCmdlet.ShouldProcess($moduleDir, 'Build the module and its package')) { return }

if (-not $NoBuild) {
    dotnet build (Join-Path $repo 'src/Utrace.PowerShell/Utrace.PowerShell.csproj') -c Release -nologo -clp:ErrorsOnly -v:quiet
    if ($LASTEXITCODE -ne 0) { throw "dotnet build failed (exit code $LASTEXITCODE)." }
}

Remove-Item $moduleDir -Recurse -Force -ErrorAction SilentlyContinue
New-Item -ItemType Directory (Join-Path $moduleDir 'bin'), (Join-Path $moduleDir 'en-US') -Force | Out-Null
foreach ($file in 'Utrace.psd1', 'Utrace.format.ps1xml', 'Utrace.types.ps1xml', 'LICENSE') {
    Copy-Item (Join-Path $repo $file) $moduleDir
}
Copy-Item (Join-Path $repo 'en-US/*') (Join-Path $moduleDir 'en-US')
$bin = Join-Path $repo 'bin'
Get-ChildItem $bin -File | Where-Object { $_.Extension -in '.dll', '.json' -or $_.Name -in 'utrace-launch', 'utrace-guard', 'utrace-calibrate', 'libduckdb.so' } |
    Copy-Item -Destination (Join-Path $moduleDir 'bin')

# A throw-away repository name: the folder is the repository, the name only lives for the publish.
New-Item -ItemType Directory $packageDir -Force | Out-Null
Remove-Item (Join-Path $packageDir "Utrace.$version.nupkg") -ErrorAction SilentlyContinue
$repositoryName = "UtraceBuild$PID"
Register-PSResourceRepository -Name $repositoryName -Uri $packageDir -Trusted
try {
    Publish-PSResource -Path $moduleDir -Repository $repositoryName
}
finally {
    Unregister-PSResourceRepository -Name $repositoryName
}
Get-Item (Join-Path $packageDir "Utrace.$version.nupkg")
