using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Utrace.Native.Tracing;

namespace Utrace.PowerShell;

/// <summary>
/// Completes names from the target's own symbols once -Command, -ProcessId or -Path is on the
/// command line. A target that cannot be read completes nothing rather than failing.
/// </summary>
public abstract class TargetNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        FunctionCatalog? catalog;
        try
        {
            catalog = CatalogFor(fakeBoundParameters);
        }
        catch (Exception ex) when (ex is UtraceException or IOException or UnauthorizedAccessException)
        {
            catalog = null;
        }
        if (catalog is null)
            return [];
        var prefix = new WildcardPattern(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        return Names(catalog)
            .Where(prefix.IsMatch)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(name => new CompletionResult(Quote(name), name, CompletionResultType.ParameterValue, name));
    }

    protected abstract IEnumerable<string> Names(FunctionCatalog catalog);

    private static FunctionCatalog? CatalogFor(IDictionary bound)
    {
        if (bound["ProcessId"] is { } pid)
            return FunctionCatalog.ForProcess(Convert.ToInt32(pid));
        var directory = CurrentDirectory();
        if (bound["Command"] is { } command)
            return LaunchTarget.Resolve(command.ToString()!, null, directory, word => word).LoadCatalog();
        if ((bound["Path"] ?? bound["LiteralPath"])?.ToString() is { } path)
            return LaunchTarget.FromFile(UTraceSelectionCommandBase.IsPath(path) ? Path.GetFullPath(path, directory) : path, directory).LoadCatalog();
        return null;
    }

    // A completer runs inside the pipeline that asked for it: read the location through a nested one.
    private static string CurrentDirectory()
    {
        using var shell = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        var location = shell.AddCommand("Microsoft.PowerShell.Management\\Get-Location").Invoke<PathInfo>().FirstOrDefault();
        return location?.ProviderPath ?? Environment.CurrentDirectory;
    }

    private static string Quote(string name) =>
        name.IndexOfAny([' ', '(', ')', ',', '<', '>', '[', ']', '&', '\'', '{', '}', ';']) < 0 ? name : "'" + name.Replace("'", "''") + "'";
}

/// <summary>Completes -Function with the target's function names.</summary>
public sealed class FunctionNameCompleter : TargetNameCompleter
{
    protected override IEnumerable<string> Names(FunctionCatalog catalog) => catalog.Own.Select(f => f.Name);
}

/// <summary>Completes -Library and friends with the file names of the target's libraries.</summary>
public sealed class LibraryNameCompleter : TargetNameCompleter
{
    protected override IEnumerable<string> Names(FunctionCatalog catalog) => catalog.LibraryNames;
}

/// <summary>Completes -ProcessId with the running processes whose id or name starts with what is typed, by id.</summary>
public sealed class ProcessIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var typed = wordToComplete.Trim('\'', '"');
        foreach (var process in System.Diagnostics.Process.GetProcesses().OrderBy(p => p.Id))
        {
            using (process)
            {
                var id = process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
                string name;
                try
                {
                    name = process.ProcessName;
                }
                catch (InvalidOperationException)
                {
                    continue; // it exited meanwhile
                }
                if (id.StartsWith(typed, StringComparison.Ordinal) || name.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
                    yield return new CompletionResult(id, $"{id} {name}", CompletionResultType.ParameterValue, $"{name} ({id})");
            }
        }
    }
}

/// <summary>Completes -TraceId with the traces running in this PowerShell, described by process and command.</summary>
public sealed class TraceIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        TraceSession.Active
            .Select(session => (Id: session.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), session))
            .Where(t => t.Id.StartsWith(wordToComplete, StringComparison.Ordinal))
            .Select(t => new CompletionResult(t.Id, t.Id, CompletionResultType.ParameterValue,
                $"trace {t.Id} of process {t.session.ProcessId} ({t.session.Command})"));
}
