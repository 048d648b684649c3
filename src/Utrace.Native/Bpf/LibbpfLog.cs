using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Utrace.Native.Bpf;

/// <summary>
/// Routes libbpf's messages away from the console and keeps the latest warnings, so that
/// a failed load or attach can say why (verifier output included).
/// </summary>
internal static unsafe class LibbpfLog
{
    private const int Kept = 40;
    private static readonly Queue<string> Lines = new();
    private static int _installed;

    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
            Interop.Libbpf.SetPrint(&OnMessage);
    }

    /// <summary>The warnings libbpf printed since the last call, oldest first.</summary>
    public static string Recent()
    {
        lock (Lines)
        {
            var text = string.Join(Environment.NewLine, Lines);
            Lines.Clear();
            return text;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnMessage(int level, IntPtr format, IntPtr args)
    {
        if (level > Interop.Libbpf.PrintInfo)
            return 0;
        const int Capacity = 1024;
        byte* buffer = stackalloc byte[Capacity];
        var length = Interop.Libc.VsnPrintf(buffer, Capacity, format, args);
        if (length <= 0)
            return 0;
        var line = Encoding.UTF8.GetString(buffer, Math.Min(length, Capacity - 1)).TrimEnd();
        lock (Lines)
        {
            Lines.Enqueue(line);
            while (Lines.Count > Kept)
                Lines.Dequeue();
        }
        return 0;
    }
}
