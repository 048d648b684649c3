using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using ELFSharp.ELF.Segments;

namespace Utrace.Native.Elf;

/// <summary>
/// The probe-able functions and the dynamic-linking facts of one x86_64 executable or shared library.
/// Everything is read once, when the file is opened; the file is not kept open.
/// </summary>
internal sealed class ElfImage
{
    private const ulong DF_1_PIE = 0x08000000;
    private const SymbolType STT_GNU_IFUNC = (SymbolType)10;
    private const int MaxSymlinkHops = 40; // Linux's own limit before ELOOP

    // Sections only Go's toolchain writes, kept by stripping: its build info (Go 1.13 on) and its
    // own table of functions and their frames, which its runtime reads to walk and move stacks.
    private static readonly string[] GoSections = [".go.buildinfo", ".gopclntab"];

    private ElfImage(string path, ELF<ulong> elf)
    {
        Path = path;
        RealPath = ResolveRealPath(path);
        FileName = System.IO.Path.GetFileName(RealPath);

        var symbolTables = elf.Sections.OfType<SymbolTable<ulong>>().ToArray();
        var symtab = symbolTables.FirstOrDefault(table => table.Type == SectionType.SymbolTable);
        var dynamicSymbols = symbolTables.FirstOrDefault(table => table.Type == SectionType.DynamicSymbolTable)?.Entries.ToArray() ?? [];
        HasSymtab = symtab is not null;
        IsGo = GoSections.Any(name => elf.TryGetSection(name, out _));
        Functions = FunctionTable.Build(symtab?.Entries ?? dynamicSymbols, FunctionKind.Function);
        Exports = FunctionTable.Build(dynamicSymbols.Where(IsExported), FunctionKind.Export);
        UntypedCode = FunctionTable.BuildUntyped((symtab?.Entries ?? []).Concat(dynamicSymbols.Where(IsExported)));
        PltStubs = PltStubReader.Read(elf, dynamicSymbols);
        LibraryCalls = WithGotCallSites(PltStubs, GotCallReader.Read(elf, dynamicSymbols, [.. Functions, .. FunctionTable.ColdParts(symtab?.Entries ?? [])]));
        // IFUNCs count here: an import of strlen binds to libc's strlen resolver all the same; so do
        // untyped symbols, as hand-written assembly leaves its routines (libruby's coroutine_transfer).
        ProvidedNames = dynamicSymbols
            .Where(symbol => IsExported(symbol) && symbol.Type is SymbolType.Function or STT_GNU_IFUNC or SymbolType.NotSpecified
                && FunctionTable.IsDefined(symbol))
            .Select(symbol => symbol.Name)
            .ToArray();

        ImportedNames = dynamicSymbols
            .Where(symbol => symbol.Type is SymbolType.Function or SymbolType.NotSpecified && symbol.Name.Length > 0 && !FunctionTable.IsDefined(symbol))
            .Select(symbol => symbol.Name)
            .ToArray();

        RendezvousAddress = dynamicSymbols.FirstOrDefault(symbol => symbol.Name == "_r_debug" && FunctionTable.IsDefined(symbol))?.Value;

        var dynamic = ReadDynamicSection(elf);
        Needed = dynamic.Needed;
        SoName = dynamic.SoName;
        Interpreter = elf.Segments.FirstOrDefault(segment => segment.Type == SegmentType.Interpreter) is { } interpreter
            ? System.Text.Encoding.UTF8.GetString(interpreter.GetFileContents()).TrimEnd('\0')
            : null;
        var hasInterpreter = Interpreter is not null;
        // Current linkers mark a PIE with DF_1_PIE; older PIEs are known by an interpreter without a soname
        // (libc.so.6 has an interpreter too, being runnable, but it has a soname).
        IsPie = elf.Type == FileType.SharedObject
            && ((dynamic.Flags1 & DF_1_PIE) != 0 || (hasInterpreter && dynamic.SoName is null));
        IsSharedLibrary = elf.Type == FileType.SharedObject && !IsPie;
    }

    /// <summary>The dynamic linker the kernel loads with this program (PT_INTERP), or null.</summary>
    public string? Interpreter { get; }

    /// <summary>The path the image was opened with.</summary>
    public string Path { get; }

    /// <summary>The path with every symlink resolved, as the kernel names the file in /proc/PID/maps.</summary>
    public string RealPath { get; }

    /// <summary>The real file's name: for /proc/PID/exe, the name of the program.</summary>
    public string FileName { get; }

    /// <summary>DT_SONAME, the name other files list in DT_NEEDED; null for most executables.</summary>
    public string? SoName { get; }

    /// <summary>A position-independent executable: probe offsets stay file offsets, the load address varies.</summary>
    public bool IsPie { get; }

    public bool IsSharedLibrary { get; }

    /// <summary>False for stripped files, whose <see cref="Functions"/> then come from .dynsym.</summary>
    public bool HasSymtab { get; }

    /// <summary>Built by Go's toolchain: its runtime walks its stacks and copies them as they grow.</summary>
    public bool IsGo { get; }

    /// <summary>The functions defined in this file, one per address, sorted by address, without the C runtime's start-up code.</summary>
    public IReadOnlyList<ElfFunction> Functions { get; }

    /// <summary>One stub per imported function that is called through the PLT, sorted by address.</summary>
    public IReadOnlyList<ElfFunction> PltStubs { get; }

    /// <summary>
    /// Every imported function the file's own code calls: its PLT stubs, and the imports it calls only through their
    /// GOT slots (-fno-plt), each with its <see cref="ElfFunction.CallSites"/>; sorted by address.
    /// </summary>
    public IReadOnlyList<ElfFunction> LibraryCalls { get; }

    /// <summary>The functions this file exports to others (from .dynsym), one per address, sorted by address.</summary>
    public IReadOnlyList<ElfFunction> Exports { get; }

    /// <summary>Untyped code symbols, as hand-written assembly leaves its routines: never traced, but hooked (a stack switch).</summary>
    public IReadOnlyList<ElfFunction> UntypedCode { get; }

    /// <summary>DT_NEEDED, in order.</summary>
    public IReadOnlyList<string> Needed { get; }

    /// <summary>The function names this file's .dynsym imports from other files.</summary>
    public IReadOnlyList<string> ImportedNames { get; }

    /// <summary>Every function name (aliases included) this file's .dynsym defines for other files to bind to.</summary>
    internal IReadOnlyList<string> ProvidedNames { get; }

    /// <summary>The address of _r_debug, the rendezvous the dynamic linker keeps for debuggers (only the linker defines it), or null.</summary>
    internal ulong? RendezvousAddress { get; }

    /// <exception cref="ElfFormatException">The file cannot be read, or is not an x86_64 executable or shared library.</exception>
    public static ElfImage Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ELF<ulong> elf;
        try
        {
            var elfClass = ELFReader.CheckELFType(path);
            if (elfClass != Class.Bit64)
            {
                throw new ElfFormatException(path, elfClass == Class.NotELF ? "is not an ELF file" : "is a 32-bit ELF file; only x86_64 is supported");
            }

            elf = ELFReader.Load<ulong>(path);
        }
        catch (Exception e) when (e is not ElfFormatException)
        {
            // I/O errors, and ELFSharp's assorted exception types for malformed files.
            throw new ElfFormatException(path, $"cannot be read as an ELF file: {e.Message}", e);
        }

        using (elf)
        {
            if (elf.Machine != Machine.AMD64)
            {
                throw new ElfFormatException(path, $"is an ELF file for {elf.Machine}; only x86_64 is supported");
            }

            if (elf.Type is not (FileType.Executable or FileType.SharedObject))
            {
                throw new ElfFormatException(path, $"is an ELF {elf.Type} file, not an executable or shared library");
            }

            try
            {
                return new ElfImage(path, elf);
            }
            catch (IOException e)
            {
                // The path went away while it was read: /proc/PID/exe of a process that just exited.
                throw new ElfFormatException(path, $"cannot be read: {e.Message}", e);
            }
        }
    }

    public override string ToString() => Path;

    /// <summary>The stubs, given the call sites of their imports, and one library call per import that has call sites but no stub.</summary>
    private static IReadOnlyList<ElfFunction> WithGotCallSites(IReadOnlyList<ElfFunction> stubs, IReadOnlyList<GotCallSite> sites)
    {
        if (sites.Count == 0)
            return stubs;
        var calls = stubs.ToList();
        foreach (var import in sites.GroupBy(site => site.Import))
        {
            var stub = stubs.FirstOrDefault(stub => stub.RawName == import.Key);
            if (stub is null)
            {
                var first = import.First();
                stub = new ElfFunction(import.Key, FunctionKind.LibraryCall, first.Address, first.FileOffset, 0);
                calls.Add(stub);
            }
            stub.CallSites = import.ToArray();
        }
        calls.Sort((x, y) => x.Address.CompareTo(y.Address));
        return calls;
    }

    private static bool IsExported(SymbolEntry<ulong> symbol) =>
        symbol.Binding is SymbolBinding.Global or SymbolBinding.Weak && symbol.Visibility == SymbolVisibility.Default;

    private static DynamicInfo ReadDynamicSection(ELF<ulong> elf)
    {
        var info = new DynamicInfo();
        var dynamic = elf.Sections.OfType<DynamicSection<ulong>>().FirstOrDefault();
        if (dynamic is null || !elf.TryGetSection(".dynstr", out var section) || section is not StringTable<ulong> strings)
        {
            return info;
        }

        foreach (var entry in dynamic.Entries)
        {
            switch (entry.Tag)
            {
                case DynamicTag.Needed:
                    info.Needed.Add(strings[(long)entry.Value]);
                    break;
                case DynamicTag.SoName:
                    info.SoName = strings[(long)entry.Value];
                    break;
                case DynamicTag.Flags1:
                    info.Flags1 = entry.Value;
                    break;
            }
        }

        return info;
    }

    /// <summary>realpath(3): resolves the symlinks of every path component, not just the last.</summary>
    internal static string ResolveRealPath(string path)
    {
        var pending = new Stack<string>();
        PushComponents(pending, System.IO.Path.GetFullPath(path));
        var resolved = "/";
        var hops = 0;
        while (pending.TryPop(out var component))
        {
            if (component == ".")
            {
                continue;
            }

            if (component == "..")
            {
                resolved = System.IO.Path.GetDirectoryName(resolved) ?? "/";
                continue;
            }

            var next = System.IO.Path.Join(resolved, component);
            var target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                resolved = next;
            }
            else if (++hops > MaxSymlinkHops)
            {
                // The file was just opened, so only a concurrent rename can loop; keep the given path then.
                return System.IO.Path.GetFullPath(path);
            }
            else
            {
                if (target.StartsWith('/'))
                {
                    resolved = "/";
                }

                PushComponents(pending, target);
            }
        }

        return resolved;
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        var components = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = components.Length - 1; i >= 0; i--)
        {
            pending.Push(components[i]);
        }
    }

    private sealed class DynamicInfo
    {
        public List<string> Needed { get; } = [];

        public string? SoName { get; set; }

        public ulong Flags1 { get; set; }
    }
}
