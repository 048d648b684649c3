using Utrace.Native.Elf;

namespace Utrace;

/// <summary>A function that can be traced: where it lives and what the probe is placed on.</summary>
public sealed class FunctionInfo
{
    internal FunctionInfo(ElfFunction function, string module, string path, string? program = null, DebugInfo? debugInfo = null)
        : this(function.Name, function.RawName, module, function.Kind, function.FileOffset, function.Size, path, program)
    {
        CallSites = function.CallSites;
        CalledOnlyThroughGot = function.CalledOnlyThroughGot;
        // A library call's address is a PLT stub or a call site: debug info describes neither as the function.
        if (debugInfo is not null && function.Kind != FunctionKind.LibraryCall)
        {
            var address = function.Address;
            _source = new(() => debugInfo.SourceAt(address));
            _prototype = new(() => debugInfo.PrototypeAt(address));
        }
    }

    /// <summary>
    /// A function as a trace file records it (files from before format 1.1 have no program; files
    /// of programs without debug info, no source location).
    /// </summary>
    public FunctionInfo(string name, string rawName, string module, FunctionKind kind, ulong offset, ulong size, string path, string? program = null,
        string? sourceFile = null, int? sourceLine = null)
    {
        if (sourceFile is not null && sourceLine is { } line)
            _source = new(new SourceLocation(sourceFile, line));
        Program = program;
        Name = name;
        RawName = rawName;
        Kind = kind;
        Offset = offset;
        Size = size;
        Module = module;
        Path = path;
    }

    /// <summary>Demangled name.</summary>
    public string Name { get; }

    /// <summary>The name in the ELF symbol table.</summary>
    public string RawName { get; }

    /// <summary>File name of the ELF the function lives in; for a library call, the library that defines it when known.</summary>
    public string Module { get; }

    public FunctionKind Kind { get; }

    /// <summary>
    /// File offset of the function's first instruction in <see cref="Path"/>; for a library call the program makes
    /// without a PLT stub (code built with -fno-plt), of its first call site.
    /// </summary>
    public ulong Offset { get; }

    public ulong Size { get; }

    /// <summary>The file the probe is attached to.</summary>
    public string Path { get; }

    /// <summary>File name of the program (executable) whose process calls the function: with -Follow, one table holds several programs.</summary>
    public string? Program { get; }

    /// <summary>The source file the function is defined in, as its debug info names it; null without debug info.</summary>
    public string? SourceFile => Source?.File;

    /// <summary>The line of <see cref="SourceFile"/> its code starts at (addr2line's answer for its address); null without debug info.</summary>
    public int? SourceLine => Source?.Line;

    /// <summary>Where the function is in its source, read from the file's DWARF line table on first use.</summary>
    internal SourceLocation? Source => _source?.Value;

    /// <summary>The function's parameters and return type from its file's DWARF, read on first use; null without.</summary>
    internal CPrototype? Prototype => _prototype?.Value;

    private readonly Lazy<SourceLocation?>? _source;
    private readonly Lazy<CPrototype?>? _prototype;

    /// <summary>For a library call, where the program's own code calls it through its GOT slot (each is probed).</summary>
    internal IReadOnlyList<GotCallSite> CallSites { get; } = [];

    /// <summary>A library call without a PLT stub: only its <see cref="CallSites"/> are probed.</summary>
    internal bool CalledOnlyThroughGot { get; }

    /// <summary>What a hit of the entry probe costs; null until a trace or Get-UTraceFunction has read the function's code.</summary>
    public EntryProbeKind? EntryProbe => _entryProbe?.Kind;

    /// <summary>Where the entry probe goes, in bytes from the function's start (more than 0 when moved); null as <see cref="EntryProbe"/>.</summary>
    public ulong? EntryProbeOffset => _entryProbe?.Offset;

    private EntryProbePlacement? _entryProbe;

    /// <summary>Chooses, and records, where the entry probe goes, given all of the function's <paramref name="code"/>.</summary>
    internal EntryProbePlacement PlaceEntryProbe(byte[] code)
    {
        // An indirect call is an instruction the kernel single-steps.
        var placement = CalledOnlyThroughGot ? new EntryProbePlacement(0, EntryProbeKind.SingleStepped) : EntryProbePlacement.Choose(code, Offset);
        _entryProbe = placement;
        return placement;
    }

    public override string ToString() => Name;
}
