# Functions the kernel cannot probe (a lock-prefixed first instruction, as in libc's
# pthread_spin_lock) are left out with a warning that names them; the rest is traced and the
# program is unharmed.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $noBpf = [bool]$env:UTRACE_NO_BPF
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $dir = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "utrace-lock-$PID") -Force
    $source = Join-Path $dir 'locked.c'
    Set-Content -Path $source -Value @'
#include <stdio.h>
/* Begins with `lock incl (%rdi)`: the kernel refuses a uprobe there (ENOTSUPP). */
__attribute__((naked, noinline)) void bump(int *counter)
{
	__asm__("lock incl (%rdi)\n\tret");
}
__attribute__((noinline)) int work(int *counter)
{
	bump(counter);
	return *counter;
}
int main(void)
{
	int counter = 0, sum = 0;
	for (int i = 0; i < 5; i++)
		sum += work(&counter);
	printf("sum %d\n", sum);
	return 0;
}
'@
    $script:locked = Join-Path $dir 'locked'
    & gcc -O2 -o $locked $source
    if ($LASTEXITCODE -ne 0) { throw 'gcc failed' }
}

AfterAll {
    Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue
}

Describe 'A function the kernel cannot probe' -Skip:$noBpf {
    It 'is left out with a warning naming it, the rest is traced, the program unharmed' {
        $events = Start-UTrace -Command $locked -SummaryVariable summary -WarningVariable warnings -WarningAction SilentlyContinue 6>$null
        $LASTEXITCODE | Should -Be 0
        @($events | Where-Object Function -EQ 'work').Count | Should -Be 5
        @($events | Where-Object Function -EQ 'bump').Count | Should -Be 0
        $summary.FunctionsNotProbed | Should -Be 1
        ($warnings -join "`n") | Should -Match '1 function\(s\) cannot be probed and are not traced: bump \(its first instruction has a lock prefix'
    }

    It 'does not stop libc from being nested: pthread_spin_lock (lock-prefixed) is named and left out' {
        $libc = Get-UTraceFunction -Path $locked -NestLibrary 'libc.so*' | Where-Object Name -EQ 'pthread_spin_lock' | Select-Object -First 1
        [IO.File]::ReadAllBytes($libc.Path)[[int]$libc.Offset] | Should -Be 0xf0   # the oracle: its first byte is lock
        $events = Start-UTrace -Command $locked -NestLibrary 'libc.so*' -SummaryVariable summary -WarningVariable warnings -WarningAction SilentlyContinue 6>$null
        $LASTEXITCODE | Should -Be 0
        @($events | Where-Object Function -EQ 'work').Count | Should -Be 5
        @($events | Where-Object Function -EQ 'printf').Count | Should -Be 1
        ($warnings -join "`n") | Should -Match 'pthread_spin_lock \(its first instruction has a lock prefix'
        $summary.FunctionsNotProbed | Should -BeGreaterOrEqual 2
    }
}
