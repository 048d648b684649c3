BeforeDiscovery {
    $cmdlets = @('Start-UTrace', 'Stop-UTrace', 'Get-UTraceFunction', 'Import-UTrace', 'Measure-UTrace',
        'ConvertTo-UTraceCallGraph', 'ConvertTo-UTraceFlameGraph', 'ConvertTo-UTraceChromeTrace') | ForEach-Object { @{ Name = $_ } }
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
