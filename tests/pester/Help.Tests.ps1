BeforeDiscovery {
    $cmdlets = @('Start-UTrace', 'Stop-UTrace', 'Get-UTraceFunction', 'Import-UTrace', 'Measure-UTrace',
        'ConvertTo-UTraceCallGraph', 'ConvertTo-UTraceFlameGraph', 'ConvertTo-UTraceChromeTrace', 'ConvertTo-UTracePerfetto', 'Compare-UTrace', 'Get-UTraceCalibration', 'Export-UTrace', 'Invoke-UTraceQuery') | ForEach-Object { @{ Name = $_ } }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
}

Describe 'Help for <Name>' -ForEach $cmdlets {
    BeforeAll {
        $help = Get-Help $Name -Full
        $command = Get-Command $Name
    }

    It 'has a synopsis, a description and at least three examples' {
        $help.Synopsis | Should -Not -BeLike "*$Name*[[]*"   # not the generated syntax line
        ($help.description.Text -join '').Length | Should -BeGreaterThan 200
        @($help.examples.example).Count | Should -BeGreaterOrEqual 3
        $help.examples.example | ForEach-Object { $_.code | Should -Match $Name }
    }

    It 'documents exactly the cmdlet''s parameters' {
        $documented = @($help.parameters.parameter.name) | Where-Object { $_ -notin $common } | Sort-Object
        $actual = @($command.Parameters.Keys) | Where-Object { $_ -notin $common } | Sort-Object
        $documented -join ',' | Should -Be ($actual -join ',')
        $help.parameters.parameter | Where-Object { $_.name -notin $common } |
            ForEach-Object { ($_.description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$($_.name) needs a description" }
    }
}

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../../Utrace.psd1') -Force
    $noBpf = [bool]$env:UTRACE_NO_BPF
    $examples = foreach ($cmdlet in $cmdlets) {
        $index = 0
        foreach ($example in (Get-Help $cmdlet.Name -Examples).examples.example) {
            $index++
            @{ Name = $cmdlet.Name; Index = $index; Code = $example.code }
        }
    }
}

# Every example runs as printed, in a folder that holds the demo, as its text says.
Describe 'The help''s examples' -Skip:$noBpf {
    BeforeAll {
        $work = New-Item -ItemType Directory (Join-Path $TestDrive 'examples')
        cc -O0 -o (Join-Path $work 'demo') (Join-Path $PSScriptRoot '../../examples/demo.c')
    }
    AfterEach {
        Get-Job -Name 'UTrace*' -ErrorAction SilentlyContinue | Remove-Job -Force
    }

    It '<Name> example <Index> runs without an error or a warning' -ForEach $examples {
        Push-Location $work
        try {
            $ErrorActionPreference = 'Stop'
            $global:LASTEXITCODE = 0
            $null = & ([scriptblock]::Create($Code)) 3>&1 | Tee-Object -Variable output
            @($output | Where-Object { $_ -is [System.Management.Automation.WarningRecord] }) | Should -BeNullOrEmpty
            $LASTEXITCODE | Should -Be 0
        }
        finally {
            Pop-Location
        }
        # Examples that start the demo in the background end it themselves.
        @(Get-Process demo -ErrorAction SilentlyContinue | Where-Object { $_.Parent.Id -eq $PID }) | Should -BeNullOrEmpty
    }
}

Describe 'about_Utrace' {
    BeforeAll { $about = Get-Help about_Utrace | Out-String }

    It 'says what Utrace does, the privileges it needs, its modes and its limits' {
        foreach ($section in 'SHORT DESCRIPTION', 'LONG DESCRIPTION', 'PRIVILEGES', 'MODES', 'DURATIONS', 'LIMITS') {
            $about | Should -Match "(?m)^$section$"
        }
        foreach ($mode in [enum]::GetNames([Utrace.ReturnMode])) {
            $about | Should -Match "(?m)^\s+$mode\s" -Because "-ReturnMode $mode is a mode"
        }
        $about | Should -Match 'CAP_BPF and CAP_PERFMON'
        $about | Should -Match '64 frames deep'
    }
}

Describe 'The README' {
    BeforeAll { $readme = Get-Content (Join-Path $PSScriptRoot '../../README.md') -Raw }

    It 'has one line for every cmdlet the module exports, and none for a cmdlet it does not' {
        $table = [regex]::Match($readme, '(?ms)^## Cmdlets\s*\n(.*?)\n\n').Groups[1].Value
        $listed = [regex]::Matches($table, '(?m)^\| `([A-Za-z]+-[A-Za-z]+)` \|') | ForEach-Object { $_.Groups[1].Value } | Sort-Object
        $exported = (Import-PowerShellDataFile (Join-Path $PSScriptRoot '../../Utrace.psd1')).CmdletsToExport | Sort-Object
        $listed -join ',' | Should -Be ($exported -join ',')
    }

    It 'names only help topics that exist' {
        $topics = [regex]::Matches($readme, 'about_Utrace\w*') | ForEach-Object Value | Sort-Object -Unique
        $topics | Should -Not -BeNullOrEmpty
        foreach ($topic in $topics) {
            (Get-Help $topic -ErrorAction SilentlyContinue).Name | Should -Be $topic -Because "the README names $topic"
        }
    }
}
