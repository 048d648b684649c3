using Utrace.Native.Elf;

namespace Utrace.Native.Tracing;

/// <summary>
/// Every traceable function of a program: its own functions, its library calls (PLT stubs, or
/// call sites through the GOT, named after the library that provides them), and on request the exports of its libraries.
/// </summary>
public sealed class FunctionCatalog
{
    private readonly ElfImage _executable;
    private readonly string _executablePath;
    private readonly LibraryResolver _libraries;

    private FunctionCatalog(ElfImage executable, string executablePath, LibraryResolver libraries)
    {
        _executable = executable;
        _executablePath = executablePath;
        _libraries = libraries;
        _libraries.AssignProviders(executable);
        var module = executable.FileName;
        Own = executable.Functions.Select(f => new FunctionInfo(f, module, executablePath, module))
            .Concat(executable.LibraryCalls.Select(f => new FunctionInfo(f, f.Library ?? module, executablePath, module)))
            .ToArray();
    }

    /// <summary>File name of the executable.</summary>
    public string ExecutableName => _executable.FileName;

    /// <summary>The executable's own functions and its library calls.</summary>
    public IReadOnlyList<FunctionInfo> Own { get; }

    /// <summary>The names (DT_SONAME, else file name) of the shared libraries the program uses, in search order.</summary>
    public IEnumerable<string> LibraryNames => _libraries.LibraryPaths.Select(LibraryName);

    /// <summary>
    /// Functions of a program file that is not running, with libraries found as ld.so would with
    /// <paramref name="ldLibraryPath"/> (LD_LIBRARY_PATH) and <paramref name="ldPreload"/> (LD_PRELOAD).
    /// </summary>
    public static FunctionCatalog ForExecutable(string path, string? ldLibraryPath, string? ldPreload = null)
    {
        var executable = OpenExecutable(path);
        return new FunctionCatalog(executable, path, LibraryResolver.ForExecutable(executable, ldLibraryPath, ldPreload));
    }

    /// <summary>
    /// Functions of a program held where its dynamic linker has loaded <paramref name="loadedFiles"/>
    /// (DynamicLinker.HoldWhenLoaded), in the linker's order; null for a program without libraries.
    /// </summary>
    internal static FunctionCatalog ForLoadedProgram(ElfImage executable, string path, IReadOnlyList<string>? loadedFiles) =>
        new(executable, path, LibraryResolver.ForFiles(loadedFiles ?? [], executable));

    /// <summary>
    /// Functions of a running process, with the libraries it has mapped; a process still starting
    /// is given up to <paramref name="startupWait"/> for its dynamic linker to map them.
    /// </summary>
    public static FunctionCatalog ForProcess(int pid, TimeSpan startupWait = default)
    {
        if (!ProcFs.Exists(pid))
            throw new UtraceException(TraceErrorKind.ProcessNotFound, $"No process has id {pid}.",
                "Check the id with Get-Process.", pid, errorId: "ProcessNotFound");
        var exe = ProcFs.ExecutablePath(pid);
        ElfImage executable;
        try
        {
            executable = ElfImage.Open(exe);
        }
        catch (ElfFormatException ex) when (ProcFs.HasExited(pid))
        {
            throw ProcFs.Exited(pid, ex);
        }
        catch (ElfFormatException ex) when (ex.InnerException is UnauthorizedAccessException)
        {
            throw ProcFs.AccessDenied(pid, ex);
        }
        catch (ElfFormatException ex)
        {
            throw InvalidExecutable(ex, exe);
        }
        ProcessStartup.WaitForLibraries(pid, executable, startupWait);
        try
        {
            return new FunctionCatalog(executable, exe, LibraryResolver.ForProcess(pid, executable));
        }
        catch (IOException ex) when (ProcFs.HasExited(pid))
        {
            throw ProcFs.Exited(pid, ex);
        }
    }

    /// <summary>
    /// Entry probes on the C++ runtime's unwinder and catch, wherever the program has them
    /// (its own code, libgcc_s, libstdc++): they let exceptions pass through return probes. With
    /// <paramref name="stackSwitches"/>, on its stack-switch routines too (libc's swapcontext...).
    /// </summary>
    internal IReadOnlyList<UnwindHook> UnwindHooks(bool stackSwitches)
    {
        var places = _executable.Functions.Concat(_executable.UntypedCode).Select(f => (Function: f, Path: _executablePath))
            .Concat(_libraries.LibraryPaths.SelectMany(path =>
                _libraries.Open(path).Exports.Concat(_libraries.Open(path).UntypedCode).Select(f => (Function: f, Path: path))));
        return UnwindHook.Among(places, stackSwitches);
    }

    /// <summary>The real paths of the executable and of the libraries it was found to use.</summary>
    internal IEnumerable<string> ModulePaths => _libraries.LibraryPaths.Prepend(_executablePath).Select(ElfImage.ResolveRealPath);

    /// <summary>
    /// Where to probe the dynamic linker's rendezvous function, _dl_debug_state (its r_brk), which
    /// it calls around every change to the program's libraries; null for a static program.
    /// </summary>
    internal (string Path, ulong Offset)? LinkerRendezvous()
    {
        foreach (var path in _libraries.LibraryPaths)
        {
            if (_libraries.Open(path).Exports.FirstOrDefault(f => f.RawName == "_dl_debug_state") is { } rendezvous)
                return (path, rendezvous.FileOffset);
        }
        return null;
    }

    /// <summary>The exported functions of <paramref name="library"/> the selection keeps, as the program <paramref name="program"/> calls them.</summary>
    internal static IEnumerable<FunctionInfo> NestedFunctions(ElfImage library, string path, string program, FunctionSelection selection) =>
        library.Exports.Select(f => new FunctionInfo(f, library.SoName ?? library.FileName, path, program)).Where(f => Traceable(f, selection));

    /// <summary>Built by Go's toolchain, whose runtime moves the stacks return probes would be on.</summary>
    internal bool IsGoProgram => _executable.IsGo;

    /// <summary>
    /// A function the program, or a library it uses other than the C library, imports or defines
    /// to run code on another stack within a thread (swapcontext, jump_fcontext...), or that such a
    /// library traced by <paramref name="nestLibrary"/> defines (libruby's coroutine_transfer): its
    /// traced functions run on the stacks it switches. Null if none.
    /// </summary>
    internal string? StackSwitchSign(Func<string, bool>? nestLibrary) => ReturnPolicy.StackSwitchSign(NamesInUse(nestLibrary));

    /// <summary>Whether the program, or a library it uses other than the C library, leaves calls by longjmp.</summary>
    internal bool JumpsOut(Func<string, bool>? nestLibrary) => ReturnPolicy.JumpsOut(NamesInUse(nestLibrary));

    /// <summary>
    /// The names the program imports or defines, those the libraries it uses other than the C library import, and those
    /// the libraries <paramref name="nestLibrary"/> traces define.
    /// </summary>
    private IEnumerable<string> NamesInUse(Func<string, bool>? nestLibrary)
    {
        var libraries = _libraries.LibraryPaths
            .Where(path => !LibraryName(path).StartsWith("libc.so", StringComparison.Ordinal))
            .SelectMany(path => nestLibrary?.Invoke(LibraryName(path)) == true
                ? _libraries.Open(path).ImportedNames.Concat(_libraries.Open(path).ProvidedNames)
                : _libraries.Open(path).ImportedNames);
        return _executable.ImportedNames.Concat(_executable.Functions.Select(f => f.RawName)).Concat(libraries);
    }

    /// <summary>The functions the selection keeps, executable first, then nested libraries.</summary>
    public IReadOnlyList<FunctionInfo> Select(FunctionSelection selection)
    {
        // A call into a nested library is seen at the function itself: its PLT stub would count it twice.
        var nest = selection.NestLibrary;
        var chosen = Own.Where(f => Traceable(f, selection) && !(f.Kind == FunctionKind.LibraryCall && nest is not null && nest(f.Module))).ToList();
        if (nest is not null)
        {
            foreach (var path in _libraries.LibraryPaths)
            {
                var name = LibraryName(path);
                if (!nest(name))
                    continue;
                chosen.AddRange(NestedFunctions(_libraries.Open(path), path, ExecutableName, selection));
            }
        }
        return chosen;
    }

    private static bool Traceable(FunctionInfo function, FunctionSelection selection) =>
        !UnwindHook.IsUnwinderInternal(function.RawName) && selection.Accepts(function);

    // Library calls name their library by DT_SONAME ("libstdc++.so.6"), so nested libraries do too.
    private string LibraryName(string path) => _libraries.Open(path).SoName ?? Path.GetFileName(path);

    /// <exception cref="UtraceException">The file is not an x86-64 ELF executable.</exception>
    internal static ElfImage OpenExecutable(string path)
    {
        try
        {
            return ElfImage.Open(path);
        }
        catch (ElfFormatException ex)
        {
            throw InvalidExecutable(ex, path);
        }
    }

    private static UtraceException InvalidExecutable(ElfFormatException ex, string path) =>
        new(TraceErrorKind.InvalidData, ex.Message, "Utrace traces x86-64 ELF executables; check the path.", path, inner: ex, errorId: "NotAnElfExecutable");
}
