using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Xunit;

namespace Utrace.Tests.PowerShell;

/// <summary>A real PowerShell (Microsoft.PowerShell.SDK) with the built Utrace module imported.</summary>
public sealed class HostedPowerShell : IDisposable
{
    private readonly Runspace _runspace;

    public HostedPowerShell()
    {
        var state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(RepoPaths.File("Utrace.psd1"));
        _runspace = RunspaceFactory.CreateRunspace(state);
        _runspace.Open();
    }

    /// <summary>Runs a script with <paramref name="input"/> as $input and returns its output; errors fail the test.</summary>
    public Collection<PSObject> Run(string script, IEnumerable<object>? input = null, IDictionary<string, object?>? variables = null)
    {
        using var shell = Create(script, variables);
        var output = input is null ? shell.Invoke() : shell.Invoke(input);
        Assert.False(shell.HadErrors, string.Join(Environment.NewLine, shell.Streams.Error));
        return output;
    }

    /// <summary>A pipeline on this runspace, for tests that start, stop or inspect it themselves.</summary>
    public System.Management.Automation.PowerShell Create(string script, IDictionary<string, object?>? variables = null)
    {
        var shell = System.Management.Automation.PowerShell.Create();
        shell.Runspace = _runspace;
        foreach (var (name, value) in variables ?? new Dictionary<string, object?>())
            shell.Runspace.SessionStateProxy.SetVariable(name, value);
        shell.AddScript(script);
        return shell;
    }

    public void Dispose() => _runspace.Dispose();
}
