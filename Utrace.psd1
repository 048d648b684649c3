@{
    RootModule             = 'bin/Utrace.PowerShell.dll'
    ModuleVersion          = '0.1.0'
    GUID                   = '6f1f3c52-4b0e-4a57-9d0c-3f6c2b8e5a11'
    Author                 = 'Utrace developers'
    CompanyName            = 'Utrace developers'
    Copyright              = '(c) 2026 Utrace developers. MIT License.'
    Description            = 'Traces the functions of C and C++ programs on Linux with eBPF uprobes and streams one CallEvent per completed call. x86-64 Linux only (kernel 6.6 or later with multi-uprobes is best); tracing needs root, or CAP_BPF and CAP_PERFMON.'
    PowerShellVersion      = '7.4'
    CompatiblePSEditions   = @('Core')
    ProcessorArchitecture  = 'Amd64'
    # Loaded before the types file, which names Utrace.CallEvent (deserialized CallEvents become CallEvents again).
    RequiredAssemblies     = @('bin/Utrace.Native.dll')
    FormatsToProcess       = @('Utrace.format.ps1xml')
    TypesToProcess         = @('Utrace.types.ps1xml')
    CmdletsToExport        = @('Start-UTrace', 'Stop-UTrace', 'Get-UTraceFunction', 'Import-UTrace', 'Measure-UTrace',
                               'ConvertTo-UTraceCallGraph', 'ConvertTo-UTraceFlameGraph', 'ConvertTo-UTraceChromeTrace',
                               'ConvertTo-UTracePerfetto', 'Compare-UTrace', 'Get-UTraceCalibration', 'Export-UTrace', 'Invoke-UTraceQuery')
    FunctionsToExport      = @()
    AliasesToExport        = @()
    VariablesToExport      = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('eBPF', 'uprobe', 'tracing', 'profiling', 'performance', 'Linux', 'x64', 'PSEdition_Core')
            ProjectUri   = 'https://github.com/utrace/utrace'
            LicenseUri   = 'https://github.com/utrace/utrace/blob/main/LICENSE'
            ReleaseNotes = @'
0.1.0: Start-UTrace (launch or attach, -AsJob, -OutFile, -RunAs, -ReturnMode), Stop-UTrace -TraceId,
Get-UTraceFunction, Import-UTrace (trace files, and CSV or Clixml exports of CallEvents),
Measure-UTrace, ConvertTo-UTraceCallGraph, ConvertTo-UTraceFlameGraph, ConvertTo-UTraceChromeTrace.
Runs on x86-64 Linux only: the BPF programs and the native helpers are built for it.
'@
        }
    }
}
