BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $bin = Join-Path $FixtureBin 'gcc-O2-pie'

    # A user to run programs as; created here when missing, and then removed in AfterAll.
    $user = 'utrace-test'
    $createdUser = $false
    if (-not $env:UTRACE_NO_BPF -and -not (getent passwd $user)) {
        useradd --system --no-create-home --shell /bin/sh --groups users $user
        $createdUser = $true
    }
}

AfterAll {
    if ($createdUser) { userdel $user }
}

Describe 'A bad wildcard pattern' {
    It 'Start-UTrace -<Parameter> <Pattern> is an InvalidArgument error that targets the pattern' -ForEach @(
        @{ Parameter = 'Function'; Pattern = '[' }
        @{ Parameter = 'ExcludeFunction'; Pattern = 'fib[' }
        @{ Parameter = 'Library'; Pattern = 'lib[c' }
        @{ Parameter = 'ExcludeLibrary'; Pattern = '[' }
        @{ Parameter = 'NestLibrary'; Pattern = '[abc' }
    ) {
        $selection = @{ $Parameter = $Pattern }
        $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 3" @selection }
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.FullyQualifiedErrorId | Should -Be 'InvalidWildcardPattern,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be $Pattern
        $err.Exception.Message | Should -Be "-$Parameter '$Pattern' is not a valid wildcard pattern: a [ must be closed by a ] (a set such as [abc], or a range such as [a-z])."
        $err.ErrorDetails.RecommendedAction | Should -Be 'To match [ or ] literally, escape it with a backtick (`[) or enclose it in brackets ([[]).'
    }

    It 'Get-UTraceFunction -<Parameter> <Pattern> is the same error, non-terminating' -ForEach @(
        @{ Parameter = 'Function'; Pattern = '[' }
        @{ Parameter = 'NestLibrary'; Pattern = 'lib[' }
    ) {
        $selection = @{ $Parameter = $Pattern }
        $result = Get-UTraceFunction -Path "$bin/fib" @selection -ErrorVariable err -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].FullyQualifiedErrorId | Should -Be 'InvalidWildcardPattern,Utrace.PowerShell.GetUTraceFunctionCommand'
        $err[0].TargetObject | Should -Be $Pattern
    }

    It 'the escapes the hint gives match a literal [' {
        # fib has no function with [ in its name: both escapes exclude nothing.
        $all = @(Get-UTraceFunction -Path "$bin/fib").Count
        @(Get-UTraceFunction -Path "$bin/fib" -ExcludeFunction '`[*').Count | Should -Be $all
        @(Get-UTraceFunction -Path "$bin/fib" -ExcludeFunction '[[]*').Count | Should -Be $all
    }
}

Describe 'A process that has exited' {
    BeforeAll {
        # A zombie: its child exits, and the parent never reaps it (a shell might, before it execs).
        $info = [System.Diagnostics.ProcessStartInfo]::new('perl')
        '-e', '$| = 1; my $child = fork(); exit 0 unless $child; print "$child\n"; sleep 60' | ForEach-Object { $info.ArgumentList.Add($_) }
        $info.RedirectStandardOutput = $true
        $parent = [System.Diagnostics.Process]::Start($info)
        $zombie = [int]$parent.StandardOutput.ReadLine()
        while ((Get-Content -Raw "/proc/$zombie/stat") -notmatch '\) Z ') { Start-Sleep -Milliseconds 10 }
    }

    AfterAll {
        $parent.Kill()
        $parent.WaitForExit()
    }

    It 'Start-UTrace -ProcessId is an ObjectNotFound error that targets the pid' {
        $err = Get-ErrorRecord { Start-UTrace -ProcessId $zombie }
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.FullyQualifiedErrorId | Should -Be 'ProcessExited,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be $zombie
        $err.Exception.Message | Should -Be "Process $zombie has exited: Utrace cannot read its functions or attach to it."
        $err.ErrorDetails.RecommendedAction | Should -Be 'Check the id with Get-Process; to trace a short-lived program from its start, use Start-UTrace -Command.'
    }

    It 'Get-UTraceFunction -ProcessId is the same error' {
        Get-UTraceFunction -ProcessId $zombie -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].FullyQualifiedErrorId | Should -Be 'ProcessExited,Utrace.PowerShell.GetUTraceFunctionCommand'
        $err[0].TargetObject | Should -Be $zombie
    }
}

Describe 'A PowerShell without the capabilities tracing needs' -Skip:$noBpf {
    # A child pwsh, still uid 0, whose capability sets are emptied (or reduced) by setpriv.
    It 'with <Keep> kept, names <Missing> as missing' -ForEach @(
        @{ Keep = 'none'; Missing = 'CAP_BPF and CAP_PERFMON'; Target = 'CAP_BPF, CAP_PERFMON' }
        @{ Keep = 'CAP_BPF'; Missing = 'CAP_PERFMON'; Target = 'CAP_PERFMON' }
    ) {
        $caps = if ($Keep -eq 'none') { '-all' } else { "-all,+$($Keep.Substring(4).ToLowerInvariant())" }
        $module = Join-Path $PSScriptRoot '../../Utrace.psd1'
        $script = "Import-Module '$module'; try { Start-UTrace -Command '$bin/fib 3' -ErrorAction Stop } catch { " +
            '$_.CategoryInfo.Category; $_.FullyQualifiedErrorId; $_.TargetObject; $_.Exception.Message; $_.ErrorDetails.RecommendedAction }; [Environment]::ProcessPath'
        $lines = @(setpriv --inh-caps=$caps --ambient-caps=$caps --bounding-set=$caps -- pwsh -NoProfile -Command $script)
        $lines[0] | Should -Be 'PermissionDenied'
        $lines[1] | Should -Be 'MissingCapability,Utrace.PowerShell.StartUTraceCommand'
        $lines[2] | Should -Be $Target
        $lines[3] | Should -Be "Loading the BPF programs failed: Operation not permitted (EPERM, errno 1). PowerShell lacks $Missing; this kernel traces with CAP_BPF and CAP_PERFMON, or with CAP_SYS_ADMIN."
        $lines[4] | Should -Be ("Run PowerShell as root: sudo pwsh. Or give the program that runs PowerShell the capabilities, for every user who runs it: " +
            "sudo setcap cap_bpf,cap_perfmon+ep '$($lines[5])'. In a container, start it with --cap-add BPF --cap-add PERFMON.")
        $lines[5] | Should -Be (Get-Process -Id $PID).Path -Because 'the child pwsh runs on the same .NET host'
    }
}

Describe 'A process of another user, without CAP_SYS_PTRACE' -Skip:$noBpf {
    BeforeAll {
        $info = [System.Diagnostics.ProcessStartInfo]::new('setpriv')
        "--reuid=$user", "--regid=$user", '--clear-groups', 'sleep', '60' | ForEach-Object { $info.ArgumentList.Add($_) }
        $other = [System.Diagnostics.Process]::Start($info)
        while ((Get-Content -Raw "/proc/$($other.Id)/status") -notmatch "(?m)^Uid:\s+$((id -u $user))\s") { Start-Sleep -Milliseconds 10 }
    }

    AfterAll {
        $other.Kill()
        $other.WaitForExit()
    }

    It 'Get-UTraceFunction -ProcessId is a PermissionDenied error that targets the pid' {
        $module = Join-Path $PSScriptRoot '../../Utrace.psd1'
        $script = "Import-Module '$module'; Get-UTraceFunction -ProcessId $($other.Id) -ErrorVariable err -ErrorAction SilentlyContinue; " +
            '$err[0].CategoryInfo.Category; $err[0].FullyQualifiedErrorId; $err[0].TargetObject; $err[0].Exception.Message'
        $lines = @(setpriv --bounding-set=-sys_ptrace --inh-caps=-all -- pwsh -NoProfile -Command $script)
        $lines[0] | Should -Be 'PermissionDenied'
        $lines[1] | Should -Be 'ProcessAccessDenied,Utrace.PowerShell.GetUTraceFunctionCommand'
        $lines[2] | Should -Be $other.Id
        $lines[3] | Should -Be "Utrace may not read process $($other.Id): it belongs to another user, and reading it needs CAP_SYS_PTRACE."
    }
}

Describe 'A script given to -Command' -Skip:$noBpf {
    It 'warns that its interpreter is what is traced' {
        $script = Join-Path $TestDrive 'hello.sh'
        Set-Content $script "#!/bin/sh`nexit 0"
        chmod +x $script
        $interpreter = readlink -f /bin/sh
        $null = Start-UTrace -Command $script -WarningVariable warnings -WarningAction SilentlyContinue
        $warnings[0].Message | Should -Be "$script is a script: $interpreter, its interpreter, is what is traced."
    }
}

Describe 'A script whose interpreter does not exist' {
    It 'is a NotFound error that names the interpreter and targets the script' {
        $orphan = Join-Path $TestDrive 'orphan.sh'
        Set-Content $orphan "#!/nonexistent/shell`nexit 0"
        chmod +x $orphan
        $err = Get-ErrorRecord { Start-UTrace -Command $orphan }
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.FullyQualifiedErrorId | Should -Be 'InterpreterNotFound,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be $orphan
        $err.Exception.Message | Should -Be "'$orphan' is a script for '/nonexistent/shell', which is not an executable file."
    }
}

Describe 'Filter values that cannot be' {
    It '-MinDuration <Value> is refused at binding, with why' -ForEach @(
        @{ Value = '-1ms'; Message = '*-1.000 ms is negative, and a duration cannot be*' }
        @{ Value = 5; Message = '*5 is a bare number, and a duration needs a unit*' }
    ) {
        $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 3" -MinDuration $Value }
        $err.FullyQualifiedErrorId | Should -Be 'ParameterArgumentTransformationError,Utrace.PowerShell.StartUTraceCommand'
        $err.Exception.Message | Should -BeLike $Message
    }

    It '-ThreadId 0 is refused at binding: no thread has id 0' {
        $err = Get-ErrorRecord { Start-UTrace -Command "$bin/fib 3" -ThreadId 0 }
        $err.FullyQualifiedErrorId | Should -Be 'ParameterArgumentValidationError,Utrace.PowerShell.StartUTraceCommand'
    }
}

Describe 'Start-UTrace -RunAs' -Skip:$noBpf {
    BeforeAll {
        # What the user database says, from another source than Utrace.
        $entry = (getent passwd $user) -split ':'
        $expectedGroups = id -G $user
        $outDir = Join-Path $TestDrive 'out'
        New-Item -ItemType Directory $outDir | Out-Null
        chmod 777 $outDir
    }

    It 'runs the command as the user, with its groups, HOME, USER, LOGNAME and SHELL' {
        $command = "/bin/sh -c 'id -u > $outDir/uid; id -G > $outDir/groups; echo `$HOME `$USER `$LOGNAME `$SHELL > $outDir/env'"
        $null = Start-UTrace -Command $command -RunAs $user -WarningAction SilentlyContinue
        Get-Content "$outDir/uid" | Should -Be $entry[2]
        Get-Content "$outDir/groups" | Should -Be $expectedGroups
        Get-Content "$outDir/env" | Should -Be "$($entry[5]) $user $user $($entry[6])"
        (stat -c '%U:%G' "$outDir/uid") | Should -Be "${user}:$((id -gn $user))"
    }

    It 'takes a numeric uid' {
        $null = Start-UTrace -Command "/bin/sh -c 'id -un > $outDir/name'" -RunAs $entry[2] -WarningAction SilentlyContinue
        Get-Content "$outDir/name" | Should -Be $user
    }

    It 'an unknown user is an ObjectNotFound error before anything runs' {
        $err = Get-ErrorRecord { Start-UTrace -Command "/bin/sh -c 'touch $outDir/ran'" -RunAs 'no-such-user-utrace' }
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.FullyQualifiedErrorId | Should -Be 'UserNotFound,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be 'no-such-user-utrace'
        $err.Exception.Message | Should -Be "No user is named or numbered 'no-such-user-utrace'."
        "$outDir/ran" | Should -Not -Exist
    }

    It 'a program the user may not execute is a PermissionDenied error' {
        $private = Join-Path $TestDrive 'private'
        New-Item -ItemType Directory $private | Out-Null
        Copy-Item "$bin/fib" $private
        chmod 700 $private
        $err = Get-ErrorRecord { Start-UTrace -Command "$private/fib 3" -RunAs $user }
        $err.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $err.FullyQualifiedErrorId | Should -Be 'ProgramNotExecutable,Utrace.PowerShell.StartUTraceCommand'
        $err.TargetObject | Should -Be "$private/fib"
        $err.Exception.Message | Should -Be "User $user may not execute $private/fib."
        $err.ErrorDetails.RecommendedAction | Should -Match 'search \(x\) permission on every directory above it'
    }
}
