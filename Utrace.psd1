@{
    RootModule           = 'bin/Utrace.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f1f3c52-4b0e-4a57-9d0c-3f6c2b8e5a11'
    Author               = 'Utrace developers'
    Description          = 'Traces the functions of C and C++ programs on Linux with eBPF uprobes and streams one CallEvent per completed call.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('Utrace.format.ps1xml')
    TypesToProcess       = @('Utrace.types.ps1xml')
    CmdletsToExport      = @('Start-UTrace', 'Stop-UTrace', 'Get-UTraceFunction', 'Import-UTrace', 'Measure-UTrace',
                             'ConvertTo-UTraceCallGraph', 'ConvertTo-UTraceFlameGraph', 'ConvertTo-UTraceChromeTrace')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('eBPF', 'uprobe', 'tracing', 'Linux', 'performance')
        }
    }
}
