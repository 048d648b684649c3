using Microsoft.Win32.SafeHandles;
using Utrace.Native.Bpf;

namespace Utrace.Native.Tracing;

/// <summary>
/// Writes the return addresses the BPF program asks for (C++ unwinding through return probes)
/// into the traced process's memory, then lets the process, stopped by the BPF side, go on.
/// </summary>
internal sealed class StackPatcher : IDisposable
{
    private readonly int _pid;
    private SafeFileHandle? _memory;

    public StackPatcher(int pid) => _pid = pid;

    /// <summary>Patches applied; each is one stop and continue of the process.</summary>
    public long Applied { get; private set; }

    /// <summary>Patches that could not be written (the process is left to the unwinder as it is).</summary>
    public long Failed { get; private set; }

    public void Apply(in PatchHeader header, ReadOnlySpan<PatchWrite> writes)
    {
        Span<byte> value = stackalloc byte[sizeof(ulong)];
        try
        {
            _memory ??= File.OpenHandle(ProcFs.MemoryPath(_pid), FileMode.Open, FileAccess.ReadWrite);
            foreach (var write in writes)
            {
                if (write.Address == 0)
                    continue;
                BitConverter.TryWriteBytes(value, write.Value);
                RandomAccess.Write(_memory, value, (long)write.Address);
            }
            Applied++;
        }
        catch (IOException)
        {
            Failed++; // the process is gone
        }
        catch (UnauthorizedAccessException)
        {
            Failed++;
        }
        finally
        {
            // Always continue the process: a stop the engine does not end would hang it.
            Interop.Libc.Kill((int)header.Pid, Interop.Libc.SIGCONT);
        }
    }

    public void Dispose() => _memory?.Dispose();
}
