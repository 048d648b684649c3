using Microsoft.Win32.SafeHandles;
using Utrace.Native.SafeHandles;

namespace Utrace.Native.Tracing;

/// <summary>
/// Calls back once every watched process has exited: the traced process, or with -Follow every process
/// the kernel follows for the trace. It sleeps in poll(2) on their pidfds, and reads the list of processes
/// again when one exits or when <see cref="Wake"/> says the list changed (a fork was reported).
/// </summary>
internal sealed class ExitWatcher : IDisposable
{
    private readonly Func<IReadOnlyList<int>> _processes;
    private readonly Action _allExited;
    private readonly SafeFileHandle _wake;
    private readonly Thread _thread;
    private readonly Dictionary<int, SafePidfdHandle> _watched = [];
    // Exited but maybe still listed (a zombie): not watched again while listed.
    private readonly HashSet<int> _exited = [];
    private volatile bool _stopping;

    private ExitWatcher(Func<IReadOnlyList<int>> processes, Action allExited)
    {
        _processes = processes;
        _allExited = allExited;
        _wake = Interop.Libc.EventFd(0, Interop.Libc.EFD_CLOEXEC | Interop.Libc.EFD_NONBLOCK);
        if (_wake.IsInvalid)
            throw Interop.BpfError(Interop.LastErrno, "Creating the wake-up of the process watch");
        _thread = new Thread(Run) { IsBackground = true, Name = "utrace process watch" };
    }

    /// <summary>Watches <paramref name="processes"/> (read again on each change); <paramref name="allExited"/> runs on the watcher's thread.</summary>
    public static ExitWatcher Start(Func<IReadOnlyList<int>> processes, Action allExited)
    {
        var watcher = new ExitWatcher(processes, allExited);
        watcher._thread.Start();
        return watcher;
    }

    /// <summary>The list of processes may have changed: read it again.</summary>
    public unsafe void Wake()
    {
        ulong one = 1;
        try
        {
            Interop.Libc.Write(_wake, &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // The watch has ended: nothing to wake.
        }
    }

    public void Dispose()
    {
        _stopping = true;
        Wake();
        // The callback may end the trace, which disposes the watcher from its own thread.
        if (Thread.CurrentThread != _thread && _thread.IsAlive)
            _thread.Join();
        _wake.Dispose();
    }

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                WatchListed();
                if (_watched.Count == 0)
                {
                    _allExited();
                    return;
                }
                WaitForChange();
            }
        }
        finally
        {
            foreach (var pidfd in _watched.Values)
                pidfd.Dispose();
        }
    }

    private void WatchListed()
    {
        var listed = _processes().ToHashSet();
        _exited.IntersectWith(listed);
        foreach (var pid in _watched.Keys.Where(pid => !listed.Contains(pid)).ToArray())
        {
            _watched.Remove(pid, out var gone);
            gone!.Dispose();
        }
        foreach (var pid in listed.Where(pid => !_watched.ContainsKey(pid) && !_exited.Contains(pid)))
        {
            // No pidfd: the process is gone already.
            var pidfd = Interop.Libc.PidfdOpen(Interop.Libc.SysPidfdOpen, pid, 0);
            if (pidfd.IsInvalid)
                pidfd.Dispose();
            else
                _watched[pid] = pidfd;
        }
    }

    private unsafe void WaitForChange()
    {
        var pids = _watched.Keys.ToArray();
        var fds = new Interop.Libc.PollFd[pids.Length + 1];
        fds[0] = new() { Fd = (int)_wake.DangerousGetHandle(), Events = Interop.Libc.POLLIN };
        for (var i = 0; i < pids.Length; i++)
            fds[i + 1] = new() { Fd = (int)_watched[pids[i]].DangerousGetHandle(), Events = Interop.Libc.POLLIN };
        fixed (Interop.Libc.PollFd* set = fds)
        {
            if (Interop.Libc.Poll(set, (nuint)fds.Length, -1) < 0)
                return; // EINTR: look again
        }
        if (fds[0].ReturnedEvents != 0)
        {
            ulong count;
            Interop.Libc.Read(_wake, &count, sizeof(ulong));
        }
        for (var i = 0; i < pids.Length; i++)
        {
            if (fds[i + 1].ReturnedEvents == 0)
                continue;
            _watched.Remove(pids[i], out var exited);
            exited!.Dispose();
            _exited.Add(pids[i]);
        }
    }
}
