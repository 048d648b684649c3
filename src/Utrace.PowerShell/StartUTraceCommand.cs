using System.Collections;
using System.Management.Automation;
using Utrace.Native.Bpf;
using Utrace.Native.Recording;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// Traces the functions of a command it launches, or of a running process, and writes one
/// CallEvent per completed call to the pipeline as the program runs.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "UTrace", DefaultParameterSetName = CommandSet, SupportsShouldProcess = true)]
[OutputType(typeof(CallEvent))]
[OutputType(typeof(UTraceJob))]
[OutputType(typeof(FunctionSummary))]
public sealed class StartUTraceCommand : UTraceSelectionCommandBase
{
    private const string CommandSet = "Command";
    private const string ProcessSet = "ProcessId";

    private const int ProgressIntervalMs = 200;
    private const int WarningCheckEvents = 4096;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The program to run and its arguments, split like a shell would.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = CommandSet)]
    [ValidateNotNullOrEmpty]
    public string Command { get; set; } = "";

    /// <summary>More arguments, passed as they are.</summary>
    [Parameter(Position = 1, ParameterSetName = CommandSet)]
    [Alias("Args")]
    public string[]? ArgumentList { get; set; }

    /// <summary>A running process to attach to; binds the Id of a Process object from the pipeline.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ProcessSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "PID")]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int ProcessId { get; set; }

    /// <summary>The user (a name or a numeric uid) the command runs as, with that user's groups and HOME; the tracer keeps its privileges.</summary>
    [Parameter(ParameterSetName = CommandSet)]
    [ValidateNotNullOrEmpty]
    public string? RunAs { get; set; }

    /// <summary>Runs the trace in the background and returns a job; Receive-Job yields its CallEvents.</summary>
    [Parameter]
    public SwitchParameter AsJob { get; set; }

    /// <summary>Calls deeper than this (0 = outermost traced call) are not reported.</summary>
    [Parameter]
    [ValidateRange(0, 10_000)]
    public int? MaxDepth { get; set; }

    /// <summary>Calls shorter than this ('1ms', '250us', a TimeSpan; never a bare number) are dropped in the kernel.</summary>
    [Parameter]
    [DurationArgument]
    public Duration MinDuration { get; set; }

    /// <summary>Only these threads are traced, filtered in the kernel.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateRange(1, int.MaxValue)]
    public int[]? ThreadId { get; set; }

    /// <summary>Stores the TraceSummary of a foreground trace in this variable when the trace ends.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SummaryVariable { get; set; }

    /// <summary>Writes every event to this trace file (Arrow IPC stream) instead of the pipeline; read it back with Import-UTrace.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutFile { get; set; }

    /// <summary>With -OutFile, also writes the CallEvents to the pipeline (or the job).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// Aggregates calls per function in the kernel (Calls, Total, Self, Average, Min, Max and a latency
    /// histogram) and writes one summary per function when the trace ends, instead of an event per call.
    /// </summary>
    [Parameter]
    public SwitchParameter Summary { get; set; }

    /// <summary>
    /// Also traces every process the program forks and every program they exec (strace -f), with the
    /// same selection; each event's ProcessId and Program tell where it came from. The trace ends when
    /// the program and all its followers have exited.
    /// </summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    /// <summary>
    /// Arguments and return values to capture, in the kernel: a hashtable of function wildcard to
    /// spec, such as @{ fib = 'int -> int'; strlen = 'string -> ulong'; 'send*' = 'int, ptr, ulong' }.
    /// The spec 'auto' (or -Capture Auto for every function) takes it from the program's debug info
    /// (built with -g) or, for C library calls, from Utrace's table of their prototypes.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [CaptureArgument]
    public IDictionary? Capture { get; set; }

    /// <summary>Multi-uprobe links (default where the kernel has them) or one uprobe per function.</summary>
    [Parameter]
    public AttachMode AttachMode { get; set; } = AttachMode.Auto;

    /// <summary>
    /// How the end of a call is seen: Auto (return probes, or EntryOnly for a Go program), Uretprobe,
    /// RetInstruction (never touches the stack; slower), EntryOnly (no durations; cheapest).
    /// </summary>
    [Parameter]
    public ReturnMode ReturnMode { get; set; } = ReturnMode.Auto;

    /// <summary>
    /// Wildcard patterns on function names: only the calls made while a matching function's call is on the
    /// thread's stack (that call included) are sent; the others are filtered in the kernel. Matching
    /// functions are traced even where -Function leaves them out.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FunctionNameCompleter))]
    public string[]? Within { get; set; }

    /// <summary>
    /// Stop probing a function once its probes have cost more than this share (percent) of the program's own CPU time (its
    /// CPU time while traced, less what all probes cost, estimated from the calibration), after
    /// -ProbeBudgetMinCalls calls: its calls until then are kept, the others go unreported, and the summary says which
    /// functions were dropped. Every other function stays exact.
    /// </summary>
    [Parameter]
    [ValidateRange(0.01, 100.0)]
    public double ProbeBudget { get; set; }

    /// <summary>With -ProbeBudget, the calls a function makes before its probes' cost can drop it.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long ProbeBudgetMinCalls { get; set; } = Native.Tracing.ProbeBudget.DefaultMinCalls;

    protected override void ProcessRecord()
    {
        var progress = new ProgressReporter(ParameterSetName == ProcessSet ? $"process {ProcessId}" : Command, WriteProgress, Thread.CurrentThread);
        var output = ProgramOutputRelay.IsNeeded(Host) ? new ProgramOutputRelay(MyInvocation.MyCommand.Name) : null;
        if (StartSession(progress, output) is not { } session)
        {
            output?.Flush(WriteInformation);   // what the launcher said before it failed
            return;
        }
        TraceRegistry.Add(session);
        var report = new TraceReport(session);
        var startWarnings = report.StartWarnings();
        foreach (var warning in startWarnings)
            WriteWarning(warning);
        WriteVerbose($"Trace {session.Id}: {session.Functions.Count} functions of process {session.ProcessId} ({session.Command}).");
        // With -Follow, the programs the children run may have what the first one lacks.
        if (!Follow)
            WarnOfUnmatchedFunctions(FunctionPatternsMatched(session.Functions.ToArray()));

        if (AsJob)
        {
            var job = new UTraceJob(session, report);
            progress.Redirect(job.Progress.Add);
            output?.Redirect(job.Information);
            JobRepository.Add(job);
            job.Begin(startWarnings);
            WriteObject(job);
            return;
        }

        try
        {
            // Wakes up now and then to write the progress of a detach that another thread runs.
            var read = 0;
            while (!session.IsDrained)
            {
                if (session.TryRead(out var e, ProgressIntervalMs, _stopping.Token))
                {
                    WriteObject(e);
                    // Warnings that come while the trace runs (the probe-cost advice), now and then.
                    if (++read % WarningCheckEvents == 0)
                        WriteWarnings(report.RunningWarnings());
                }
                else
                {
                    FlushFromOtherThreads(progress, output);
                    WriteWarnings(report.RunningWarnings());
                }
            }
            FlushFromOtherThreads(progress, output);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: the finally block detaches.
        }
        catch (PipelineStoppedException)
        {
            // A command downstream has all it wants (Select-Object -First): nothing more can be
            // written, but the summary and the exit code still reach the user's variables.
            session.Dispose();
            KeepOutcome(session.Summary);
            throw;
        }
        finally
        {
            session.Dispose();
        }
        output?.Flush(WriteInformation);
        if (!_stopping.IsCancellationRequested)
            WriteObject(session.FunctionSummaries, enumerateCollection: true);
        Report(report, session.Summary);
    }

    /// <summary>
    /// Launches or attaches; null when ShouldProcess said no, or after a non-terminating error, so
    /// that one process that cannot be traced does not end a pipeline of many.
    /// </summary>
    private TraceSession? StartSession(ProgressReporter progress, ProgramOutputRelay? output)
    {
        TraceFileWriter? recording = null;
        try
        {
            if (Summary && OutFile is not null)
                throw new UtraceException(TraceErrorKind.InvalidArgument, "-Summary aggregates in the kernel and writes no events: there is nothing for -OutFile to record.",
                    "Leave out -OutFile, or -Summary (and summarize the file with Measure-UTrace -Path).", OutFile, errorId: "SummaryWithOutFile");
            if (MyInvocation.BoundParameters.ContainsKey(nameof(ProbeBudgetMinCalls)) && !MyInvocation.BoundParameters.ContainsKey(nameof(ProbeBudget)))
                throw new UtraceException(TraceErrorKind.InvalidArgument, "-ProbeBudgetMinCalls only says when -ProbeBudget may drop a function, and no -ProbeBudget is given.",
                    "Add -ProbeBudget (a percentage of the program's time, such as 10), or leave out -ProbeBudgetMinCalls.", ProbeBudgetMinCalls, errorId: "MinCallsWithoutBudget");
            var outFile = OutFile is null ? null : FileSystemPaths.ResolveNew(this, OutFile, nameof(OutFile));
            var runAs = RunAs is null ? null : UserAccount.Find(RunAs);
            if (ParameterSetName == ProcessSet)
            {
                var catalog = FunctionCatalog.ForProcess(ProcessId);
                if (!ShouldProcess($"process {ProcessId} ({catalog.ExecutableName})", "Attach probes"))
                    return null;
                recording = outFile is null ? null : TraceFileWriter.Create(outFile);
                return TraceSession.Attach(ProcessId, Options(progress, recording, runAs, output), catalog);
            }
            var target = LaunchTarget.Resolve(Command, ArgumentList, CurrentDirectory, ProgramPath);
            if (target.InterpreterNote is { } note)
                WriteWarning(note);
            if (!ShouldProcess(string.Join(' ', target.Argv), "Run and trace"))
                return null;
            recording = outFile is null ? null : TraceFileWriter.Create(outFile);
            return TraceSession.Launch(target.Program, target.TracedBinary, target.Argv, CurrentDirectory, Options(progress, recording, runAs, output));
        }
        catch (UtraceException ex)
        {
            recording?.Dispose();
            WriteError(ErrorRecords.From(ex, "TraceFailed"));
            return null;
        }
        catch (ErrorRecordException ex)
        {
            WriteError(ex.Record);
            return null;
        }
        catch
        {
            recording?.Dispose();
            throw;
        }
    }

    private TraceOptions Options(ProgressReporter progress, TraceFileWriter? recording, UserAccount? runAs, ProgramOutputRelay? output) => new()
    {
        TraceId = TraceRegistry.NextId(),
        Progress = progress,
        Selection = BuildSelection(Within),
        MinDuration = MinDuration,
        MaxDepth = MaxDepth,
        ThreadIds = ThreadId,
        AttachMode = AttachMode,
        ReturnMode = ReturnMode,
        RunAs = runAs,
        ProgramOutput = output is null ? null : output.Add,
        Recording = recording,
        StreamEvents = recording is null || PassThru,
        SummaryOnly = Summary,
        Follow = Follow,
        Captures = CaptureRules(),
        Budget = MyInvocation.BoundParameters.ContainsKey(nameof(ProbeBudget)) ? new ProbeBudget(ProbeBudget, ProbeBudgetMinCalls) : null,
    };

    /// <exception cref="UtraceException">A pattern or a spec is not valid.</exception>
    private CaptureRule[]? CaptureRules()
    {
        if (Capture is null)
            return null;
        var rules = new List<CaptureRule>();
        foreach (DictionaryEntry entry in Capture)
        {
            var pattern = LanguagePrimitives.ConvertTo<string>(entry.Key);
            var text = LanguagePrimitives.ConvertTo<string>(entry.Value) ?? "";
            CaptureSpec? spec;
            try
            {
                spec = text.Trim().Equals(CaptureRule.Automatic, StringComparison.OrdinalIgnoreCase) ? null : CaptureSpec.Parse(text);
            }
            catch (FormatException ex)
            {
                throw new UtraceException(TraceErrorKind.InvalidArgument, $"-Capture {pattern}: {ex.Message}", CaptureSpec.Syntax, text,
                    inner: ex, errorId: "InvalidCaptureSpec");
            }
            var wildcard = Compile(pattern, nameof(Capture));
            rules.Add(new CaptureRule(pattern, wildcard.IsMatch, spec));
        }
        return rules.ToArray();
    }

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>-SummaryVariable, and $LASTEXITCODE as a native command sets it (not after Ctrl+C).</summary>
    private void KeepOutcome(TraceSummary summary)
    {
        if (SummaryVariable is not null)
            SessionState.PSVariable.Set(SummaryVariable, summary);
        if (summary.ExitCode is { } code && !_stopping.IsCancellationRequested)
            SessionState.PSVariable.Set("global:LASTEXITCODE", code);
    }

    /// <summary>Writes what the engine's threads reported: progress, and the program's output in a remote session.</summary>
    private void FlushFromOtherThreads(ProgressReporter progress, ProgramOutputRelay? output)
    {
        progress.Flush();
        output?.Flush(WriteInformation);
    }

    private void WriteWarnings(IEnumerable<string> warnings)
    {
        foreach (var warning in warnings)
            WriteWarning(warning);
    }

    private void Report(TraceReport report, TraceSummary summary)
    {
        KeepOutcome(summary);
        WriteVerbose($"Trace {summary.Id} {summary.State.ToString().ToLowerInvariant()}: {summary.EventsDelivered} events delivered, " +
            $"{summary.EventsRecorded} recorded, {summary.EventsDropped} dropped, {summary.EventsFiltered} filtered in the kernel, {summary.CallsUnwound} unwound; attach {summary.AttachTime.TotalMilliseconds:0} ms, detach {summary.DetachTime.TotalMilliseconds:0} ms.");
        foreach (var warning in report.EndWarnings(summary))
            WriteWarning(warning);
        if (!_stopping.IsCancellationRequested && SummaryText.Exit(summary) is { } exit)
            WriteWarning(exit);
        if (report.RecordingFailure() is { } failure)
            WriteError(failure);
    }
}
