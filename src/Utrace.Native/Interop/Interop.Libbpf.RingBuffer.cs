using System.Runtime.InteropServices;
using Utrace.Native.SafeHandles;

namespace Utrace.Native;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__new", SetLastError = true)]
        internal static unsafe partial SafeRingBufferHandle RingBufferNew(int mapFd, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, nuint, int> sample, IntPtr context, IntPtr options);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__poll", SetLastError = true)]
        internal static partial int RingBufferPoll(SafeRingBufferHandle ringBuffer, int timeoutMs);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__consume", SetLastError = true)]
        internal static partial int RingBufferConsume(SafeRingBufferHandle ringBuffer);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__epoll_fd")]
        internal static partial int RingBufferEpollFd(SafeRingBufferHandle ringBuffer);

        [LibraryImport(Libraries.Libbpf, EntryPoint = "ring_buffer__free")]
        internal static partial void RingBufferFree(IntPtr ringBuffer);
    }
}
