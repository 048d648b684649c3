using System.Text.RegularExpressions;
using Utrace.Native;
using Xunit;

namespace Utrace.Tests.Interop;

public sealed partial class ErrnoTests
{
    [Fact]
    public void NamesEveryErrnoOfTheKernelHeaders()
    {
        // The oracle: the kernel's user-space headers (linux-libc-dev), not our table.
        var defined = new[] { "/usr/include/asm-generic/errno-base.h", "/usr/include/asm-generic/errno.h" }
            .SelectMany(File.ReadLines)
            .Select(line => NumericDefine().Match(line))
            .Where(match => match.Success)
            .ToDictionary(match => int.Parse(match.Groups[2].Value), match => match.Groups[1].Value);
        Assert.Equal(131, defined.Count); // 1..133 without 41 and 58
        foreach (var (number, name) in defined)
            Assert.Equal(name, Native.Interop.ErrnoName(number));
    }

    [Theory]
    [InlineData(1, "Operation not permitted (EPERM, errno 1)")]
    [InlineData(3, "No such process (ESRCH, errno 3)")]
    [InlineData(95, "Operation not supported (EOPNOTSUPP, errno 95)")]
    [InlineData(512, "Interrupted system call, to be restarted (kernel internal) (ERESTARTSYS, errno 512)")]
    [InlineData(524, "Operation not supported (the kernel cannot probe this instruction) (ENOTSUPP, errno 524)")]
    [InlineData(531, "NFS file lock reclaim refused (ENOGRACE, errno 531)")]
    [InlineData(520, "Unknown error (errno 520)")]
    [InlineData(0, "Unknown error (no errno)")]
    public void DescribesAnErrnoWithItsNameAndMeaning(int errno, string text) =>
        Assert.Equal(text, Native.Interop.DescribeErrno(errno));

    [Theory]
    [InlineData(0UL, 40, "CAP_BPF CAP_PERFMON")]
    [InlineData(1UL << 39, 40, "CAP_PERFMON")]
    [InlineData(1UL << 38, 40, "CAP_BPF")]
    [InlineData((1UL << 38) | (1UL << 39), 40, null)]
    [InlineData(1UL << 21, 40, null)]
    [InlineData(1UL << 39, 37, "CAP_SYS_ADMIN")]
    [InlineData(1UL << 21, 37, null)]
    public void NamesTheMissingTracingCapabilities(ulong effective, int lastCapability, string? missing) =>
        Assert.Equal(missing, Native.Interop.MissingTracingCapabilities(effective, lastCapability) is { } found ? string.Join(' ', found.Names) : null);

    [GeneratedRegex(@"^#define\s+(E[A-Z0-9]+)\s+(\d+)\b")]
    private static partial Regex NumericDefine();
}
