# A fleet of two hosts reached with PowerShell remoting over SSH, both on this machine: two
# private sshd on the loopback (127.0.0.1 and 127.0.0.2, one port), each with the pwsh
# subsystem, the second in a UTS namespace of its own so that its kernel host name differs.
BeforeDiscovery {
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Fib = Join-Path $FixtureBin 'gcc-O2-pie/fib'
    $script:Module = (Resolve-Path (Join-Path $PSScriptRoot '../../Utrace.psd1')).Path
    $script:HostA = [Environment]::MachineName
    $script:HostB = 'utrace-fleet-b'
    $script:Addresses = '127.0.0.1', '127.0.0.2'
    $script:SshDir = Join-Path $TestDrive 'ssh'
    New-Item -ItemType Directory $SshDir | Out-Null

    # A port free on both addresses.
    function Get-FreePort {
        while ($true) {
            $listener = [System.Net.Sockets.TcpListener]::new([ipaddress]'127.0.0.1', 0)
            $listener.Start()
            $port = $listener.LocalEndpoint.Port
            $listener.Stop()
            $other = [System.Net.Sockets.TcpListener]::new([ipaddress]'127.0.0.2', $port)
            try { $other.Start(); $other.Stop(); return $port } catch [System.Net.Sockets.SocketException] { }
        }
    }

    function Wait-Listening([string] $Address, [int] $Port, $Process) {
        $deadline = [datetime]::UtcNow.AddSeconds(20)
        while ([datetime]::UtcNow -lt $deadline) {
            if ($Process.HasExited) { throw "sshd on $Address exited with code $($Process.ExitCode): $(Get-Content (Join-Path $SshDir "sshd-$Address.log") -Raw)" }
            $client = [System.Net.Sockets.TcpClient]::new()
            try { $client.Connect($Address, $Port); return } catch [System.Net.Sockets.SocketException] { Start-Sleep -Milliseconds 100 } finally { $client.Dispose() }
        }
        throw "sshd on ${Address}:$Port did not listen within 20 s."
    }

    if (-not (Test-Path /usr/sbin/sshd)) { throw 'openssh-server is not installed: scripts/install-deps.sh installs it.' }
    ssh-keygen -q -t ed25519 -N '' -C utrace-test-host -f (Join-Path $SshDir 'host_key')
    ssh-keygen -q -t ed25519 -N '' -C utrace-test-user -f (Join-Path $SshDir 'user_key')
    $script:UserKey = Join-Path $SshDir 'user_key'
    Copy-Item "$UserKey.pub" (Join-Path $SshDir 'authorized_keys')
    $script:Port = Get-FreePort
    $hostKey = (Get-Content (Join-Path $SshDir 'host_key.pub')).Split(' ')[0..1] -join ' '
    Set-Content (Join-Path $SshDir 'known_hosts') "[127.0.0.1]:$Port,[127.0.0.2]:$Port $hostKey"
    # The pwsh on PATH (a dotnet tool's launcher here); the subsystem starts it as a server.
    $pwsh = (Get-Command pwsh -CommandType Application)[0].Source
    # sshd refuses to start without its privilege separation directory, which a machine without the ssh service lacks.
    New-Item -ItemType Directory /run/sshd -Force | Out-Null
    $script:Daemons = foreach ($address in $Addresses) {
        $config = Join-Path $SshDir "sshd-$address.conf"
        Set-Content $config @(
            "ListenAddress $address"
            "Port $Port"
            "HostKey $SshDir/host_key"
            "AuthorizedKeysFile $SshDir/authorized_keys"
            'PermitRootLogin prohibit-password'
            'PasswordAuthentication no'
            'KbdInteractiveAuthentication no'
            'UsePAM no'
            # The keys live in a test's temporary folder, not in ~/.ssh.
            'StrictModes no'
            "PidFile $SshDir/sshd-$address.pid"
            "Subsystem powershell $pwsh -sshs -NoLogo -NoProfile"
        )
        $sshd = '/usr/sbin/sshd', '-D', '-f', $config, '-E', (Join-Path $SshDir "sshd-$address.log")
        if ($address -ne '127.0.0.1') {
            # unshare and sh exec sshd: the process started is the daemon itself.
            $sshd = @('unshare', '--uts', 'sh', '-c', "hostname $HostB && exec `"`$@`"", 'sh') + $sshd
        }
        $start = [System.Diagnostics.ProcessStartInfo]::new($sshd[0])
        foreach ($argument in $sshd | Select-Object -Skip 1) { $start.ArgumentList.Add($argument) }
        $daemon = [System.Diagnostics.Process]::Start($start)
        Wait-Listening $address $Port $daemon
        $daemon
    }

    $script:Fleet = @{
        HostName    = $Addresses
        Port        = $Port
        UserName    = [Environment]::UserName
        KeyFilePath = $UserKey
        Options     = @{ UserKnownHostsFile = (Join-Path $SshDir 'known_hosts'); StrictHostKeyChecking = 'yes'; LogLevel = 'ERROR' }
    }
    $script:RecordDir = Join-Path $TestDrive 'remote'
    New-Item -ItemType Directory $RecordDir | Out-Null

    # Each host traces fib 10 into a file named after itself and streams the events back.
    $script:Remote = @(Invoke-Command @Fleet -InformationVariable programOutput -InformationAction SilentlyContinue -ArgumentList $Module, $Fib, $RecordDir -ScriptBlock {
            param($Module, $Fib, $RecordDir)
            Import-Module $Module
            Start-UTrace -Command "$Fib 10" -OutFile (Join-Path $RecordDir "$([Environment]::MachineName).utrace") -PassThru -SummaryVariable summary
            [pscustomobject]@{ ExitCode = $summary.ExitCode }
        })
    $script:ProgramOutput = @($programOutput)
    $script:Events = @($Remote | Where-Object { $_.PSObject.TypeNames -contains 'Deserialized.Utrace.CallEvent' })

    # The events grouped by host, after checking that there are exactly the two hosts' groups.
    function Get-HostGroup($Calls) {
        $groups = @($Calls | Group-Object ComputerName | Sort-Object Name)
        $groups.Name | Should -Be @($HostA, $HostB | Sort-Object) -Because 'each of the two hosts sent its events'
        $groups
    }
}

AfterAll {
    foreach ($daemon in $Daemons) {
        if (-not $daemon.HasExited) { Stop-Process -Id $daemon.Id }
    }
}

Describe 'Invoke-Command -HostName a,b { Start-UTrace }' -Skip:$noBpf {
    It 'runs on both hosts, each a host of its own name' {
        $hosts = Invoke-Command @Fleet { [Environment]::MachineName } | Sort-Object PSComputerName
        $hosts.PSComputerName | Should -Be $Addresses
        @($hosts) | Should -Be @($HostA, $HostB)
    }

    It 'the program prints and returns what it does untraced, on the client console, not among the events' {
        $untraced = Invoke-Command @Fleet -ArgumentList $Fib { param($Fib) & $Fib 10; $LASTEXITCODE }
        @($untraced | Where-Object PSComputerName -EQ '127.0.0.1') | Should -Be @('fib(10) = 55', 0)
        @($ProgramOutput | ForEach-Object MessageData | ForEach-Object Message) | Should -Be @('fib(10) = 55', 'fib(10) = 55')
        @($ProgramOutput | Where-Object Tags -Contains 'stdout').Count | Should -Be 2
        @($Remote | Where-Object { $_ -is [string] }).Count | Should -Be 0
        @($Remote | Where-Object { $null -ne $_.ExitCode } | ForEach-Object ExitCode) | Should -Be @(0, 0)
    }

    It 'a job in a remote session hands the program output to Receive-Job' {
        $out = @(Invoke-Command @Fleet -InformationVariable jobOutput -InformationAction SilentlyContinue -ArgumentList $Module, $Fib -ScriptBlock {
                param($Module, $Fib)
                Import-Module $Module
                $job = Start-UTrace -Command "$Fib 10" -AsJob
                Receive-Job $job -Wait
                Remove-Job $job
            })
        foreach ($address in $Addresses) {
            @($out | Where-Object { $_.PSComputerName -eq $address -and $_.Function -eq 'fib' }).Count | Should -Be 177
        }
        @($jobOutput | ForEach-Object MessageData | ForEach-Object Message) | Should -Be @('fib(10) = 55', 'fib(10) = 55')
    }

    It 'every event knows its host: ComputerName (the kernel host name) and PSComputerName (the address)' {
        $groups = @($Events | Group-Object PSComputerName, ComputerName | Sort-Object Name)
        $groups.Name | Should -Be @("127.0.0.1, $HostA", "127.0.0.2, $HostB")
        foreach ($group in $groups) {
            @($group.Group | Where-Object Function -EQ 'fib').Count | Should -Be 177
            @($group.Group | Where-Object Function -EQ 'main').Count | Should -Be 1
        }
    }

    It 'deserialized events group and measure: Duration is a Duration again, exact to the ns' {
        $Events[0].Duration | Should -BeOfType Utrace.Duration
        $Events[0].SelfDuration.Nanoseconds | Should -Be $Events[0].SelfNs
        foreach ($group in Get-HostGroup $Events) {
            $fib = $group.Group | Where-Object Function -EQ 'fib'
            ($fib | Measure-Object Duration -Sum).Sum | Should -Be ($fib | Measure-Object DurationNs -Sum).Sum
            ($fib | Measure-Object Duration -Maximum).Maximum | Should -Be ($fib | Measure-Object DurationNs -Maximum).Maximum
            $slow = ($fib | Sort-Object DurationNs -Descending)[0]
            ($fib | Sort-Object Duration -Descending)[0].DurationNs | Should -Be $slow.DurationNs
            @($fib | Where-Object Duration -GE "$($slow.DurationNs)ns").Count | Should -Be @($fib | Where-Object DurationNs -GE $slow.DurationNs).Count
        }
    }

    It 'Measure-UTrace of each host: 177 calls of fib, 1 of main' {
        foreach ($group in Get-HostGroup $Events) {
            $summary = $group.Group | Measure-UTrace
            ($summary | Where-Object Function -EQ 'fib').Calls | Should -Be 177
            ($summary | Where-Object Function -EQ 'main').Calls | Should -Be 1
        }
    }

    It 'the reports of the deserialized events equal those of the trace file that host wrote' {
        foreach ($group in Get-HostGroup $Events) {
            $file = Join-Path $RecordDir "$($group.Name).utrace"
            $group.Group | ConvertTo-UTraceFlameGraph -Format Folded | Should -Be (ConvertTo-UTraceFlameGraph -Format Folded -Path $file)
            $group.Group | ConvertTo-UTraceCallGraph -Flat | Should -Be (ConvertTo-UTraceCallGraph -Flat -Path $file)
            $group.Group | ConvertTo-UTraceChromeTrace | Should -Be (ConvertTo-UTraceChromeTrace -Path $file)
            ($group.Group | Measure-UTrace | Format-Table | Out-String) | Should -Be (Measure-UTrace -Path $file | Format-Table | Out-String)
        }
    }
}

Describe 'Copy-Item -FromSession of the trace files, then Import-UTrace' -Skip:$noBpf {
    It 'imports the events of both hosts, grouped by ComputerName, equal to those streamed back' {
        $sessions = New-PSSession @Fleet
        try {
            $local = Join-Path $TestDrive 'collected'
            New-Item -ItemType Directory $local | Out-Null
            foreach ($session in $sessions) {
                # Two statements: a one-command script block has its arguments evaluated here, not on the host.
                $remoteFile = Invoke-Command -Session $session -ArgumentList $RecordDir -ScriptBlock { param($Dir) $name = [Environment]::MachineName; Join-Path $Dir "$name.utrace" }
                Copy-Item -FromSession $session -Path $remoteFile -Destination (Join-Path $local "$($session.ComputerName).utrace")
            }
        }
        finally {
            $sessions | Remove-PSSession
        }
        $imported = @(Import-UTrace (Join-Path $local '127.0.0.1.utrace'), (Join-Path $local '127.0.0.2.utrace'))
        $imported[0] | Should -BeOfType Utrace.CallEvent
        foreach ($group in Get-HostGroup $imported) {
            @($group.Group | Where-Object Function -EQ 'fib').Count | Should -Be 177
            ($group.Group | Measure-UTrace | Where-Object Function -EQ 'fib').Calls | Should -Be 177
        }
        $properties = 'ComputerName', 'Function', 'Module', 'Caller', 'ProcessId', 'ThreadId', 'Depth', 'Start', 'StartNs', 'Duration', 'SelfDuration', 'DurationNs', 'SelfNs', 'HasDuration'
        $format = { param($e) @(foreach ($p in $properties) { "$p=$($e.$p)" }) -join ' ' }
        @($imported | ForEach-Object { & $format $_ }) | Should -Be @($Events | Sort-Object PSComputerName -Stable | ForEach-Object { & $format $_ })
    }

    It 'keeps the host through Export-Csv and Export-Clixml of the deserialized events' {
        $csv = Join-Path $TestDrive 'fleet.csv'
        $xml = Join-Path $TestDrive 'fleet.xml'
        $Events | Export-Csv $csv
        $Events | Export-Clixml $xml
        foreach ($file in $csv, $xml) {
            $back = @(Import-UTrace $file)
            $back[0] | Should -BeOfType Utrace.CallEvent
            $back.Count | Should -Be $Events.Count
            @($back | Group-Object ComputerName | ForEach-Object { "$($_.Name) $(@($_.Group | Where-Object Function -EQ 'fib').Count)" } | Sort-Object) |
                Should -Be @("$HostA 177", "$HostB 177" | Sort-Object)
            @($back.DurationNs) | Should -Be @($Events.DurationNs)
        }
    }
}
