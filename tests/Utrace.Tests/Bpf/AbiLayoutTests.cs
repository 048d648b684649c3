using System.Runtime.CompilerServices;
using Utrace.Native.Bpf;
using Xunit;

namespace Utrace.Tests.Bpf;

/// <summary>
/// bpf/utrace.h is the contract with the BPF side: every struct and constant it defines has a C# mirror in
/// Utrace.Native with the compiler's exact layout and value. The list of pairs comes from the header and the
/// attributes, so a struct added to either side without the other fails here.
/// </summary>
public sealed class AbiLayoutTests
{
    [Fact]
    public void EveryStructAndConstantOfTheHeaderHasAnExactMirror()
    {
        var header = HeaderAbi.Read(RepoPaths.File("bpf/utrace.h"));

        // The records the reader depends on must have been seen, or the comparison proves nothing.
        Assert.Contains("utrace_event", header.Records.Select(record => record.Name));
        Assert.Contains("UTRACE_MAX_DEPTH", header.Constants.Keys);
        Assert.Empty(AbiMirrors.Differences(header, typeof(Abi).Assembly.GetTypes()));
    }

    [Fact]
    public void TheComparisonFindsEveryKindOfDifference()
    {
        var directory = Directory.CreateTempSubdirectory("utrace-abi-");
        try
        {
            var path = Path.Combine(directory.FullName, "sample.h");
            File.WriteAllText(path, SampleHeader);

            var header = HeaderAbi.Read(path);

            Assert.Equal(
                ["struct t_inner 8: a@0/4 b@4/2", "struct t_outer 64: tag@0/1 when@8/8 inner@16/8 list@24/32 delta@56/4",
                 "struct t_pair 8: first@0/4 second@4/4", "union t_either 8: inner@0/8 half@0/4", "struct t_unmirrored 4: x@0/4"],
                header.Records.Select(r => $"{r.Tag} {r.Name} {r.Size}: {string.Join(' ', r.Fields.Select(f => $"{f.Name}@{f.Offset}/{f.Size}"))}"));
            Assert.Equal(
                ["T_KIND_A=1", "T_KIND_B=7", "T_LIMIT=8", "T_NEG=-3", "T_ALL=4294967295", "T_UNMIRRORED=1"],
                header.Constants.Select(c => $"{c.Key}={c.Value}"));
            Assert.Equal(
                [
                    "TGone mirrors t_gone, which the header does not define",
                    "t_outer (TOuter): 64 bytes in C, 56 in C#",
                    "t_outer (TOuter): list is 32 bytes in C (__u32[8]), 28 in C# (Seven)",
                    "t_outer (TOuter): delta at offset 56 in C, 52 in C#",
                    "t_outer (TOuter): delta is signed in C (int), unsigned in C# (UInt32)",
                    "t_pair (TPair): field second has no mirror (a field Second, or [AbiField(\"second\")])",
                    "t_pair (TPair): Third mirrors no field of struct t_pair",
                    "t_either (TEither): inner is a struct t_inner, but UInt64 does not mirror it",
                    "struct t_unmirrored has no C# mirror: mark one with [AbiStruct(\"t_unmirrored\")]",
                    "SampleMirrors.Gone mirrors T_GONE, which the header does not define",
                    "T_KIND_B is 7 in C, 6 in C# (Kind.B)",
                    "T_ALL is 4294967295 in C, -1 in C# (SampleMirrors.AllAsInt)",
                    "T_UNMIRRORED has no C# mirror: mark a constant with [AbiConstant(\"T_UNMIRRORED\")]",
                ],
                AbiMirrors.Differences(header, typeof(SampleMirrors).GetNestedTypes().Append(typeof(SampleMirrors))));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void TheCounterComparisonFindsEveryKindOfDifference()
    {
        var record = new HeaderRecord("struct", KernelCounterAttribute.CStruct, 32,
        [
            new HeaderField("sent", "unsigned long long", 0, 8), new HeaderField("lost", "unsigned long long", 8, 8),
            new HeaderField("narrow", "unsigned int", 16, 4), new HeaderField("orphan", "unsigned long long", 24, 8),
        ]);

        Assert.Equal(
            [
                "SampleCounters.Lost: lost at offset 8 in C, 16 in C#",
                "SampleCounters.Narrow is a Int32; a counter is a long",
                "SampleCounters.Gone counts gone, which struct utrace_stats does not define",
                "utrace_stats: lost is counted by several properties: Lost, LostAgain",
                "utrace_stats: narrow is a unsigned int; counters are 8-byte unsigned (__u64)",
                "utrace_stats: orphan is counted by no property: mark one with [KernelCounter(\"orphan\", 24)]",
            ],
            AbiMirrors.CounterDifferences(record, [typeof(SampleCounters)]));
    }

    /// <summary>Counters of a sample utrace_stats, right and wrong in known ways.</summary>
    private sealed class SampleCounters
    {
        [KernelCounter("sent", 0)]
        public long Sent { get; init; }

        [KernelCounter("lost", 16)]
        public long Lost { get; init; }

        [KernelCounter("lost", 8)]
        public long LostAgain { get; init; }

        [KernelCounter("narrow", 16)]
        public int Narrow { get; init; }

        [KernelCounter("gone", 32)]
        public long Gone { get; init; }
    }

    private const string SampleHeader = """
        #ifndef SAMPLE_H
        #define SAMPLE_H
        #define T_LIMIT 8
        #define T_NEG (-3)
        #define T_ALL 0xffffffffu
        #define T_UNMIRRORED 1
        #define T_TWICE(x) ((x) * 2)
        enum t_kind { T_KIND_A = 1, T_KIND_B = 7 };
        struct t_inner { __u32 a; __u16 b; };
        struct t_outer { __u8 tag; __u64 when; struct t_inner inner; __u32 list[T_LIMIT]; __s32 delta; };
        struct t_pair { __u32 first; __u32 second; };
        union t_either { struct t_inner inner; __u32 half; };
        struct t_unmirrored { __u32 x; };
        #endif
        """;

    // Never assigned: only their layout matters.
#pragma warning disable CS0649
    /// <summary>Mirrors of SampleHeader, right and wrong in known ways.</summary>
    private static class SampleMirrors
    {
        [AbiConstant("T_LIMIT")]
        public const int Limit = 8;

        [AbiConstant("T_NEG")]
        public const long Negative = -3;

        [AbiConstant("T_ALL")]
        public const uint All = 0xffffffff;

        [AbiConstant("T_ALL")]
        public const int AllAsInt = -1;

        [AbiConstant("T_GONE")]
        public const int Gone = 0;

        public enum Kind : uint
        {
            [AbiConstant("T_KIND_A")]
            A = 1,
            [AbiConstant("T_KIND_B")]
            B = 6,
        }

        [AbiStruct("t_inner")]
        public struct TInner
        {
            public uint A;
            public ushort B;
        }

        [AbiStruct("t_outer")]
        public struct TOuter
        {
            public byte Tag;
            public ulong When;
            public TInner Inner;
            public Seven List;
            public uint Delta;
        }

        [InlineArray(7)]
        public struct Seven
        {
            private uint _first;
        }

        [AbiStruct("t_pair")]
        public struct TPair
        {
            public uint First;
            public uint Third;
        }

        [AbiStruct("t_either")]
        [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit)]
        public struct TEither
        {
            [System.Runtime.InteropServices.FieldOffset(0), AbiField("inner")]
            public ulong Whole;
            [System.Runtime.InteropServices.FieldOffset(0)]
            public uint Half;
        }

        [AbiStruct("t_gone")]
        public struct TGone
        {
            public uint X;
        }
    }
#pragma warning restore CS0649
}
