using System.Collections.Concurrent;
using Utrace.Native.Bpf;
using Utrace.Native.Elf;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Tracing;

/// <summary>
/// Grows a live trace as its processes change (bpf/utrace-follow.bpf.c): with -Follow, a forked
/// child gets its parent's probes, an exec'd program its own; with -NestLibrary, a library mapped
/// later (dlopen) gets probes if its name matches. Each change arrives with the process stopped;
/// it is continued once its probes are attached, so none of its calls goes unseen. New functions
/// are appended to the trace's table; a program or library seen again reuses its ids.
/// </summary>
internal sealed class ProcessFollower : IDisposable
{
    private readonly TraceProgram _program;
    private readonly FollowProgram _follow;
    private readonly GrowingFunctionTable _functions;
    private readonly FunctionSelection _selection;
    private readonly ReturnMode _returnMode;
    private readonly bool _unwindHooks;
    private readonly BlockingCollection<ProcessRecord> _records = new();
    private readonly object _recordsLock = new();
    private readonly object _lock = new();
    private readonly Dictionary<int, TracedProcess> _processes = new();
    private readonly Dictionary<string, ProgramProbes> _programs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _warnings = new();
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly IProgress<TraceProgress>? _progress;
    private readonly List<Task> _detaching = [];
    private readonly Thread _thread;
    private volatile bool _closed;

    private ProcessFollower(TraceProgram program, FollowProgram follow, GrowingFunctionTable functions, FunctionSelection selection,
        ReturnMode returnMode, bool unwindHooks, IProgress<TraceProgress>? progress)
    {
        _program = program;
        _progress = progress;
        _follow = follow;
        _functions = functions;
        _selection = selection;
        _returnMode = returnMode;
        _unwindHooks = unwindHooks;
        _thread = new Thread(Run) { IsBackground = true, Name = "utrace process follower" };
    }

    /// <summary>Once disposed: the processes followed to the end, whose stacks may still hold the kernel's trampolines.</summary>
    public IReadOnlyList<int> Survivors { get; private set; } = [];

    /// <summary>What went wrong with a child or a library: it is then traced less, or not at all.</summary>
    public IEnumerable<string> Warnings => _warnings;

    /// <summary>
    /// Starts following the first process <paramref name="pid"/>, whose probes (as <paramref name="setup"/>
    /// planned them, functions from id 0) the session has attached as <paramref name="probes"/>; they are
    /// detached here when that process execs. <paramref name="execsToPass"/> is 1 for a launched program not yet exec'd.
    /// </summary>
    public static ProcessFollower Start(TraceProgram program, GrowingFunctionTable functions, TraceOptions options, TraceSetup setup,
        int pid, uint execsToPass, FunctionCatalog catalog, ProbeSet probes)
    {
        var follow = FollowProgram.Load(program.EventsMapFd, options.Follow);
        var follower = new ProcessFollower(program, follow, functions, options.Selection, setup.ReturnMode, setup.ProtectUnwind, options.Progress);
        try
        {
            var root = new ProgramProbes(catalog, new ModuleProbes(setup.Plan, setup.UnwindHooks), options.Selection.NestLibrary is not null);
            follower._programs[root.Path] = root;
            // The session has told what of the first program cannot be probed.
            root.Refusals.Add(root.Start);
            var process = new TracedProcess(pid, root);
            process.Probes.Add(probes);
            follower._processes[pid] = process;
            process.Seen.UnionWith(root.StartPaths);
            process.Modules.Add(root.Start);
            follower.AttachLinker(process);
            if (options.Follow)
                follow.Follow(pid, execsToPass);
            follower._thread.Start();
            return follower;
        }
        catch
        {
            follower.Dispose();
            throw;
        }
    }

    /// <summary>The processes followed now, children not yet reported too (the kernel's table is the one read); none once disposed.</summary>
    public IReadOnlyList<int> FollowedProcesses() => _closed ? [] : _follow.FollowedProcesses();

    /// <summary>Takes a change from the ring-buffer reader; handled on the follower's thread.</summary>
    public void Enqueue(in ProcessRecord record)
    {
        lock (_recordsLock)
        {
            if (!_closed)
            {
                _records.Add(record);
                return;
            }
        }
        Continue(record);
    }

    /// <summary>Stops growing the trace: a change reported from now on is continued at once, untraced.</summary>
    private void StopFollowing()
    {
        lock (_recordsLock)
            _closed = true;
        _records.CompleteAdding();
        if (_thread.IsAlive)
            _thread.Join();
        foreach (var record in _records.GetConsumingEnumerable())
            Continue(record);
    }

    /// <summary>
    /// Stops the follow programs, continues every process still waiting, and detaches the probes
    /// of every process at once, the first process's own set included (see ProbeSet.DetachTogether).
    /// </summary>
    public void Dispose()
    {
        StopFollowing();
        _follow.Dispose();
        lock (_lock)
        {
            ProbeSet.DetachTogether(_processes.Values.SelectMany(process => process.Probes).ToArray(),
                _processes.Values.Select(process => process.Linker).OfType<SafeBpfLinkHandle>().ToArray(), _progress);
            Survivors = _processes.Keys.ToArray();
            _processes.Clear();
            Task.WaitAll(_detaching.ToArray());
        }
    }

    private void Run()
    {
        foreach (var record in _records.GetConsumingEnumerable())
        {
            lock (_lock)
            {
                try
                {
                    if (!_closed)
                        Handle(record);
                }
                catch (Exception ex)
                {
                    // Any failure, not only a process that exited meanwhile: this thread must go on (and continue the process).
                    // One that has exited (or was killed) while it waited has nothing left to trace.
                    if (ProcFs.IsRunning((int)record.Pid))
                        Warn($"Process {record.Pid} is traced no further after its {record.Kind.ToString().ToLowerInvariant()}: {ex.Message}");
                }
                finally
                {
                    Continue(record);
                }
            }
        }
    }

    private void Handle(in ProcessRecord record)
    {
        var pid = (int)record.Pid;
        switch (record.Kind)
        {
            case ProcessEventKind.Fork when _processes.TryGetValue((int)record.Parent, out var parent):
                var child = new TracedProcess(pid, parent.Program);
                _processes[pid] = child;
                child.Seen.UnionWith(parent.Seen);
                foreach (var module in parent.Modules)
                    Attach(child, module);
                AttachLinker(child);
                break;
            case ProcessEventKind.Exec:
                // A link filters on the process, not on its program: the old program's links would
                // fire in the new one wherever both map the same file (libc, the dynamic linker),
                // under the old program's function ids. They go before the process runs again.
                var detaching = _processes.Remove(pid, out var before) ? DetachLater(before, returnsFirst: false) : Task.CompletedTask;
                try
                {
                    var program = ProgramOf(pid, detaching);
                    var process = new TracedProcess(pid, program);
                    _processes[pid] = process;
                    process.Seen.UnionWith(program.StartPaths);
                    Attach(process, program.Start);
                    AttachLinker(process);
                }
                finally
                {
                    detaching.Wait(OldLinksWait);
                }
                break;
            case ProcessEventKind.Libraries when _processes.TryGetValue(pid, out var mapper):
                foreach (var path in ProcFs.ExecutableMappings(pid).Select(ElfImage.ResolveRealPath))
                {
                    if (mapper.Seen.Add(path) && LibraryModule(mapper.Program, path) is { } library)
                        Attach(mapper, library);
                }
                break;
            case ProcessEventKind.Exit:
                if (_processes.Remove(pid, out var gone))
                    DetachLater(gone);
                break;
        }
    }

    // Closing a link waits for the kernel: ~30-100 ms each, and as long as any traced process is
    // busy inside a long traced call (see ProbeSet.DetachTogether): on a thread of its own, not one
    // the thread pool needs; an exit's in the background, an exec's waited for (OldLinksWait).
    private Task DetachLater(TracedProcess process, bool returnsFirst = true)
    {
        _detaching.RemoveAll(task => task.IsCompleted);
        var detaching = Task.Factory.StartNew(() => process.Detach(returnsFirst), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _detaching.Add(detaching);
        return detaching;
    }

    // Closing a link takes its probes out at once, then waits out the kernel's grace period
    // (~30-100 ms; longer while another traced process is busy inside a long call): an exec'd
    // process is continued after this long at most.
    private static readonly TimeSpan OldLinksWait = TimeSpan.FromSeconds(1);

    // The process waits stopped for this; an exit has nothing to continue.
    private static void Continue(in ProcessRecord record)
    {
        if (record.Kind != ProcessEventKind.Exit)
            Interop.Libc.Kill((int)record.Pid, Interop.Libc.SIGCONT);
    }

    private void Attach(TracedProcess process, ModuleProbes module)
    {
        var probes = ProbeSet.Attach(_program, process.Pid, module.Plan, module.Hooks, progress: null);
        process.Probes.Add(probes);
        process.Modules.Add(module);
        var refused = module.Plan.Unprobeable.Concat(probes.Refused).Select(f => _functions[f.Key].Name).Distinct().ToArray();
        if (NotProbedWarning.For(process.Program.Name, refused) is { } warning && process.Program.Refusals.Add(module))
            Warn(warning);
    }

    // Each once per trace: many processes, or many reports of one, can meet the same trouble.
    private void Warn(string warning)
    {
        if (_warned.Add(warning))
            _warnings.Enqueue(warning);
    }

    private void AttachLinker(TracedProcess process)
    {
        if (process.Program.Linker is { } linker)
            process.Linker = _follow.AttachLinker(process.Pid, linker.Path, linker.Offset);
    }

    /// <summary>
    /// The program a process has just exec'd, its functions appended to the table the first time it is
    /// seen; then the process runs its dynamic linker, once <paramref name="oldLinksGone"/>, up to where its
    /// libraries are loaded, and waits there.
    /// </summary>
    private ProgramProbes ProgramOf(int pid, Task oldLinksGone)
    {
        var path = ElfImage.ResolveRealPath(ProcFs.ExecutablePath(pid));
        if (_programs.TryGetValue(path, out var known))
            return known;
        var executable = FunctionCatalog.OpenExecutable(path);
        // The old program's links (its probe on the linker among them) must not fire in the new one.
        var loaded = DynamicLinker.Of(executable)?.HoldWhenLoaded(_follow, pid, () =>
        {
            oldLinksGone.Wait(OldLinksWait);
            Interop.Libc.Kill(pid, Interop.Libc.SIGCONT);
        }, executable.FileName);
        var catalog = FunctionCatalog.ForLoadedProgram(executable, path, loaded);
        var mode = ReturnPolicy.ForProgram(catalog, _selection, _returnMode, ranLater: true, WatchesSwitches, out var switchWarning);
        if (switchWarning is not null)
            Warn(switchWarning);
        var module = Module(catalog.Select(_selection), _unwindHooks ? catalog.UnwindHooks(WatchesSwitches) : [], mode);
        return _programs[path] = new ProgramProbes(catalog, module, _selection.NestLibrary is not null);
    }

    /// <summary>The probes for a library mapped later; null if nothing of it is traced.</summary>
    private ModuleProbes? LibraryModule(ProgramProbes program, string path)
    {
        if (program.Libraries.TryGetValue(path, out var known))
            return known;
        ElfImage? library = null;
        try
        {
            library = ElfImage.Open(path);
        }
        catch (ElfFormatException)
        {
            // Not a library Utrace can read (a file mapped executable for another reason).
        }
        ModuleProbes? module = null;
        if (library is { IsSharedLibrary: true })
        {
            var nested = _selection.NestLibrary is { } nest && nest(library.SoName ?? library.FileName)
                ? FunctionCatalog.NestedFunctions(library, path, program.Name, _selection).ToArray()
                : [];
            var hooks = _unwindHooks ? UnwindHook.Among(library.Exports.Concat(library.UntypedCode).Select(f => (f, path)), WatchesSwitches) : [];
            if (nested.Length > 0 || hooks.Count > 0)
                module = Module(nested, hooks, _returnMode);
        }
        return program.Libraries[path] = module;
    }

    /// <summary>Session links can decline return probes: a process is then kept safe from its first stack switch on.</summary>
    private bool WatchesSwitches => _program.Mode == AttachMode.Session;

    private ModuleProbes Module(IReadOnlyList<FunctionInfo> functions, IReadOnlyList<UnwindHook> hooks, ReturnMode mode)
    {
        var firstId = _functions.Append(functions);
        return new ModuleProbes(ProbePlan.Build(functions, mode, firstId: firstId, selection: _selection), hooks);
    }
}
