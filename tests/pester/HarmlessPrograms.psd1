# Every program of tests/fixtures as Harmless.Tests.ps1 runs it, with what it does untraced (the
# same for gcc and clang, -O0 and -O2, PIE and non-PIE; checked over repeated runs):
#   Label      the test's name for the run (program and arguments)
#   Output     exactly what it writes on stdout; it writes nothing on stderr
#   ExitCode   0 unless given
#   Calls      calls of its own functions that return normally (calls entered, for a program
#              that switches stacks, which Auto traces entry-only), exactly; a traced run must
#              report these, and a run that makes ten times as many is stopped as a runaway
#   Nest       $false: no point in also tracing it with -NestLibrary 'libc*'
@{
    # Variants also traced with -NestLibrary 'libc*': the libc probed is the same for every variant,
    # so one of each compiler, unlike in optimisation and PIE, keeps the suite within minutes.
    NestVariants = @('gcc-O2-pie', 'clang-O0-nopie')

    # What every program finds on stdin; only server reads it.
    Input = "request`nrequest`nrequest`n"
    Programs = @(
        @{ Label = 'fib 10'; Name = 'fib'; Arguments = @('10'); Output = "fib(10) = 55`n"; Calls = @{ fib = 177; main = 1 } }
        @{ Label = 'strings'; Name = 'strings'; Output = "first page mapped before strlen: no`n327 bytes in 5 strings, 7`n"; Calls = @{ is_null = 2; main = 1 } }
        @{ Label = 'chain'; Name = 'chain'; Output = ''; ExitCode = 3; Calls = @{ a = 1; b = 1; c = 1; main = 1 } }
        @{ Label = 'libcalls'; Name = 'libcalls'; Output = "hello`nbye`n"; Calls = @{ make = 3; main = 1 } }
        # threads.c adds to its sum without a lock: the total it prints can differ, even untraced.
        @{ Label = 'threads'; Name = 'threads'; Output = $null; Calls = @{ work = 4000; run = 4; main = 1 } }
        @{ Label = 'server'; Name = 'server'; Output = "ready`ndone`ndone`ndone`n"; Calls = @{ handle_request = 3; background_task = 3; main = 1 } }
        @{ Label = 'slowfast'; Name = 'slowfast'; Output = ''; Calls = @{ fast = 100; slow = 4; main = 1 }; Nest = $false }
        @{ Label = 'forks'; Name = 'forks'; Output = ''; Calls = @{ spawn = 1; work = 1; main = 1 } }
        @{ Label = 'longjmp'; Name = 'longjmp'; Output = "jumped 3`n"; Calls = @{ fault_a = 3; main = 1 } }
        @{ Label = 'sigjmp'; Name = 'sigjmp'; Output = "jumped 3`n"; Calls = @{ fault_a = 3; main = 1 } }
        @{ Label = 'sigjmp signal'; Name = 'sigjmp'; Arguments = @('signal'); Output = "jumped 100`n"; Calls = @{ attempt = 100; main = 1 } }
        @{ Label = 'altstack'; Name = 'altstack'; Output = "handled 100 on-altstack 100 sum 4950`n"
            Calls = @{ handle_round = 100; outer = 100; inner = 100; on_signal = 100; handler_work = 100; handler_leaf = 100; main = 1 } }
        @{ Label = 'altstack jump'; Name = 'altstack'; Arguments = @('jump'); Output = "jumped 100 on-altstack 100`n"; Calls = @{ jump_round = 100; main = 1 } }
        @{ Label = 'coro'; Name = 'coro'; Output = "sum 20`n"; Calls = @{ resume = 6; work = 5; coroutine = 1; main = 1 } }
        # The 10th value is never resumed: yield_value and produce return 9 times, but they are
        # entered 10 times, and a program that switches stacks is traced entry-only (Auto), so
        # its calls are counted as they start.
        @{ Label = 'generator'; Name = 'generator'; Output = "sum 385 count 10`n"; Calls = @{ next_value = 10; produce = 10; yield_value = 10; main = 1 } }
        @{ Label = 'pingpong'; Name = 'pingpong'; Output = "rounds 100 checksum 3920576832`n"; Calls = @{ hit = 200; ping = 1; main = 1 } }
        @{ Label = 'ctxloop'; Name = 'ctxloop'; Output = "rounds 100`n"; Calls = @{ count_round = 100; loop = 1; main = 1 } }
        @{ Label = 'vforkexec'; Name = 'vforkexec'; Output = "child 0`nchild 0 exited 10`nchild 1`nchild 1 exited 11`nchild 2`nchild 2 exited 12`n"
            Calls = @{ spawn = 3; report = 3; main = 1 } }
        @{ Label = 'cxx'; Name = 'cxx'; Output = "55 6`n"; Calls = @{ 'geo::Shape::area() const' = 5; 'int twice<int>(int)' = 3; main = 1 }; Nest = $false }
        @{ Label = 'throws'; Name = 'throws'; Output = "sum 6`n"; Calls = @{ 'handle(int)' = 6; 'check(int)' = 3; 'validate(int)' = 3; main = 1 } }
        @{ Label = 'rethrow'; Name = 'rethrow'; Output = "caught 10 rethrown 30 sum 45`n"; Calls = @{ 'attempt(int)' = 10; main = 1 } }
        @{ Label = 'nested_try'; Name = 'nested_try'; Output = "none 3 outer 3 middle 3 inner 3 total 42`n"
            Calls = @{ 'outer(int)' = 12; 'middle(int)' = 9; 'inner(int)' = 6; 'act(int)' = 3; main = 1 } }
        @{ Label = 'dtor_unwind'; Name = 'dtor_unwind'; Output = "caught 10 destroyed 60 cleaned 10`n"; Calls = @{ 'on_destroy(int)' = 30; 'run(int)' = 10; main = 1 } }
        @{ Label = 'throw_threads'; Name = 'throw_threads'; Output = "caught 4000`n"; Calls = @{ 'attempt(int)' = 4000; 'worker(int*)' = 4; main = 1 } }
        @{ Label = 'throw_loop 20'; Name = 'throw_loop'; Arguments = @('20'); Output = "caught 20`n"; Calls = @{ 'attempt(int)' = 20; main = 1 } }
    )
}
