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
    // A verifier log arrives as one message; the reason for a rejection is at its end.
    private const int MessageCapacity = 1 << 20;
    private static readonly Queue<string> Lines = new();
    private static int _installed;

    [ThreadStatic]
    private static byte[]? _buffer;

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
        _buffer ??= GC.AllocateUninitializedArray<byte>(MessageCapacity, pinned: true);
        fixed (byte* buffer = _buffer)
        {
            var length = Interop.Libc.VsnPrintf(buffer, MessageCapacity, format, args);
            if (length <= 0)
                return 0;
            var text = Encoding.UTF8.GetString(buffer, Math.Min(length, MessageCapacity - 1));
            lock (Lines)
            {
                foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    Lines.Enqueue(line.TrimEnd());
                while (Lines.Count > Kept)
                    Lines.Dequeue();
            }
        }
        return 0;
    }
}
