using System.Collections.Concurrent;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Bpf;

/// <summary>The BPF objects built with Utrace and embedded in this assembly.</summary>
internal static class EmbeddedObject
{
    private static readonly ConcurrentDictionary<string, byte[]> Bytes = new();

    /// <summary>Opens (does not load) the embedded object <paramref name="resourceName"/>.</summary>
    public static unsafe SafeBpfObjectHandle Open(string resourceName)
    {
        LibbpfLog.Install();
        var bytes = Bytes.GetOrAdd(resourceName, Read);
        SafeBpfObjectHandle obj;
        fixed (byte* buffer = bytes)
            obj = Interop.Libbpf.ObjectOpenMem(buffer, (nuint)bytes.Length, IntPtr.Zero);
        return obj.IsInvalid ? throw Interop.BpfError(Interop.LastErrno, "Opening the BPF object") : obj;
    }

    /// <summary>Writes the object's only read-only global, which therefore sits at offset 0 of .rodata.</summary>
    public static unsafe void WriteReadOnly<T>(SafeBpfObjectHandle obj, in T value) where T : unmanaged
    {
        var rodata = Interop.Libbpf.FindMapByName(obj, ".rodata");
        nuint size = 0;
        var data = rodata == IntPtr.Zero ? IntPtr.Zero : Interop.Libbpf.MapInitialValue(rodata, out size);
        if (data == IntPtr.Zero || size < (nuint)sizeof(T))
            throw new InvalidOperationException("The BPF object has no .rodata for its configuration.");
        *(T*)data = value;
    }

    private static byte[] Read(string resourceName)
    {
        using var stream = typeof(EmbeddedObject).Assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"The assembly lacks its embedded {resourceName}; rebuild Utrace.");
        var bytes = GC.AllocateUninitializedArray<byte>((int)stream.Length, pinned: true);
        stream.ReadExactly(bytes);
        return bytes;
    }
}
