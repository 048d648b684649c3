using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Utrace.Native.Bpf;

namespace Utrace.Tests.Bpf;

/// <summary>
/// Compares a header with its C# mirrors, found by [AbiStruct], [AbiField] and [AbiConstant]: every struct and
/// constant of the header has a mirror, every mirror has a counterpart, and sizes, offsets, field order,
/// integer signedness and values agree. Returns one line per difference.
/// </summary>
internal static class AbiMirrors
{
    public static IReadOnlyList<string> Differences(HeaderAbi header, IEnumerable<Type> types)
    {
        var candidates = types.ToArray();
        var problems = new List<string>();
        CompareRecords(header, candidates, problems);
        CompareConstants(header, candidates, problems);
        return problems;
    }

    private static void CompareRecords(HeaderAbi header, Type[] types, List<string> problems)
    {
        var mirrors = types.Where(type => type.GetCustomAttribute<AbiStructAttribute>() is not null)
            .GroupBy(type => type.GetCustomAttribute<AbiStructAttribute>()!.CName)
            .ToDictionary(group => group.Key, group => group.ToArray());
        foreach (var (name, mirrorsOfOne) in mirrors.Where(pair => pair.Value.Length > 1))
            problems.Add($"{name} has several mirrors: {string.Join(", ", mirrorsOfOne.Select(type => type.Name))}");
        var defined = header.Records.Select(record => record.Name).ToHashSet();
        foreach (var (name, mirrorsOfOne) in mirrors.Where(pair => !defined.Contains(pair.Key)))
            problems.Add($"{mirrorsOfOne[0].Name} mirrors {name}, which the header does not define");

        foreach (var record in header.Records)
        {
            if (record.Name == KernelCounterAttribute.CStruct)
            {
                problems.AddRange(CounterDifferences(record, types));
                continue;
            }
            if (!mirrors.TryGetValue(record.Name, out var mirror))
            {
                problems.Add($"{record.Tag} {record.Name} has no C# mirror: mark one with [AbiStruct(\"{record.Name}\")]");
                continue;
            }
            CompareRecord(record, mirror[0], problems);
        }
    }

    private static void CompareRecord(HeaderRecord record, Type mirror, List<string> problems)
    {
        var where = $"{record.Name} ({mirror.Name})";
        if (Generic(nameof(RuntimeHelpers.IsReferenceOrContainsReferences), typeof(RuntimeHelpers), mirror) is true)
            problems.Add($"{where}: the mirror holds references; it must be plain data");
        else if (ManagedSize(mirror) != record.Size)
            problems.Add($"{where}: {record.Size} bytes in C, {ManagedSize(mirror)} in C#");

        var fields = mirror.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        var matched = new List<FieldInfo>();
        foreach (var field in record.Fields)
        {
            var csField = fields.SingleOrDefault(f => CNameOf(f) == field.Name);
            if (csField is null)
            {
                problems.Add($"{where}: field {field.Name} has no mirror (a field {PascalCase(field.Name)}, or [AbiField(\"{field.Name}\")])");
                continue;
            }
            matched.Add(csField);
            CompareField(where, field, mirror, csField, problems);
        }
        foreach (var extra in fields.Except(matched))
            problems.Add($"{where}: {extra.Name} mirrors no field of {record.Tag} {record.Name}");
        var order = fields.Intersect(matched).Select(f => f.Name).ToArray();
        if (!order.SequenceEqual(matched.Select(f => f.Name)))
            problems.Add($"{where}: fields in the order {string.Join(", ", order)}, the header's is {string.Join(", ", matched.Select(f => f.Name))}");
    }

    private static void CompareField(string where, HeaderField field, Type mirror, FieldInfo csField, List<string> problems)
    {
        var offset = (int)Marshal.OffsetOf(mirror, csField.Name);
        if (offset != field.Offset)
            problems.Add($"{where}: {field.Name} at offset {field.Offset} in C, {offset} in C#");
        var size = ManagedSize(csField.FieldType);
        if (size != field.Size)
            problems.Add($"{where}: {field.Name} is {field.Size} bytes in C ({field.CType}), {size} in C# ({csField.FieldType.Name})");
        if (IntegerSignedness(field.CType) is { } cSigned && IntegerSignedness(csField.FieldType) is { } csSigned && cSigned != csSigned)
            problems.Add($"{where}: {field.Name} is {Signedness(cSigned)} in C ({field.CType}), {Signedness(csSigned)} in C# ({csField.FieldType.Name})");
        if (RecordName(field.CType) is { } cRecord && csField.FieldType.GetCustomAttribute<AbiStructAttribute>()?.CName != cRecord)
            problems.Add($"{where}: {field.Name} is a {field.CType}, but {csField.FieldType.Name} does not mirror it");
    }

    /// <summary>
    /// The counters struct has no mirror: each of its fields is claimed by one property marked [KernelCounter],
    /// at the field's offset, and every field is an 8-byte unsigned counter (the engine sums 8-byte slots).
    /// </summary>
    public static IReadOnlyList<string> CounterDifferences(HeaderRecord record, IEnumerable<Type> types)
    {
        var problems = new List<string>();
        var claims = types.SelectMany(type => type.GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(property => (Property: property, Counter: property.GetCustomAttribute<KernelCounterAttribute>()))
            .Where(claim => claim.Counter is not null)
            .Select(claim => (claim.Property, Counter: claim.Counter!))
            .ToArray();
        foreach (var (property, counter) in claims)
        {
            var where = $"{property.DeclaringType!.Name}.{property.Name}";
            if (record.Fields.SingleOrDefault(f => f.Name == counter.CName) is not { } field)
                problems.Add($"{where} counts {counter.CName}, which {record.Tag} {record.Name} does not define");
            else if (field.Offset != counter.Offset)
                problems.Add($"{where}: {field.Name} at offset {field.Offset} in C, {counter.Offset} in C#");
            if (property.PropertyType != typeof(long))
                problems.Add($"{where} is a {property.PropertyType.Name}; a counter is a long");
        }
        foreach (var field in record.Fields)
        {
            var claimedBy = claims.Where(claim => claim.Counter.CName == field.Name).Select(claim => claim.Property.Name).ToArray();
            if (claimedBy.Length == 0)
                problems.Add($"{record.Name}: {field.Name} is counted by no property: mark one with [KernelCounter(\"{field.Name}\", {field.Offset})]");
            else if (claimedBy.Length > 1)
                problems.Add($"{record.Name}: {field.Name} is counted by several properties: {string.Join(", ", claimedBy)}");
            if (field.Size != sizeof(ulong) || IntegerSignedness(field.CType) != false)
                problems.Add($"{record.Name}: {field.Name} is a {field.CType}; counters are 8-byte unsigned (__u64)");
        }
        return problems;
    }

    private static void CompareConstants(HeaderAbi header, Type[] types, List<string> problems)
    {
        var mirrors = types.SelectMany(type => type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Where(field => field.GetCustomAttribute<AbiConstantAttribute>() is not null)
            .ToLookup(field => field.GetCustomAttribute<AbiConstantAttribute>()!.CName);
        foreach (var mirror in mirrors.Where(group => !header.Constants.ContainsKey(group.Key)))
            problems.Add($"{mirror.First().DeclaringType!.Name}.{mirror.First().Name} mirrors {mirror.Key}, which the header does not define");
        foreach (var (name, value) in header.Constants)
        {
            if (!mirrors.Contains(name))
            {
                problems.Add($"{name} has no C# mirror: mark a constant with [AbiConstant(\"{name}\")]");
                continue;
            }
            foreach (var mirror in mirrors[name])
            {
                var csValue = ConstantValue(mirror);
                if (csValue != value)
                    problems.Add($"{name} is {value} in C, {csValue} in C# ({mirror.DeclaringType!.Name}.{mirror.Name})");
            }
        }
    }

    /// <summary>The value of a const field or enum member, widened so that signed and unsigned compare exactly.</summary>
    private static Int128 ConstantValue(FieldInfo field)
    {
        var raw = field.GetRawConstantValue() ?? throw new InvalidOperationException($"{field.Name} is not a constant.");
        return raw switch
        {
            ulong u => u,
            IConvertible c when raw is sbyte or short or int or long => c.ToInt64(null),
            IConvertible c => c.ToUInt64(null),
            _ => throw new InvalidOperationException($"{field.Name} is a {raw.GetType().Name}, not an integer."),
        };
    }

    private static string CNameOf(FieldInfo field) => field.GetCustomAttribute<AbiFieldAttribute>()?.CName ?? SnakeCase(field.Name);

    private static string PascalCase(string snake) =>
        string.Concat(snake.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(word => char.ToUpperInvariant(word[0]) + word[1..]));

    // StartNs -> start_ns; a name this cannot round-trip (digits after "_", acronyms) takes [AbiField].
    private static string SnakeCase(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    /// <summary>The size .NET gives the type in memory, which is what the engine reads and writes.</summary>
    private static int ManagedSize(Type type) => (int)Generic(nameof(Unsafe.SizeOf), typeof(Unsafe), type)!;

    private static object? Generic(string method, Type owner, Type argument) =>
        owner.GetMethod(method, Type.EmptyTypes)!.MakeGenericMethod(argument).Invoke(null, null);

    private static bool? IntegerSignedness(string cType) => cType switch
    {
        "unsigned char" or "unsigned short" or "unsigned int" or "unsigned long" or "unsigned long long" => false,
        "signed char" or "char" or "short" or "int" or "long" or "long long" => true,
        _ => null,
    };

    private static bool? IntegerSignedness(Type type) => Type.GetTypeCode(type.IsEnum ? Enum.GetUnderlyingType(type) : type) switch
    {
        TypeCode.Byte or TypeCode.UInt16 or TypeCode.UInt32 or TypeCode.UInt64 => false,
        TypeCode.SByte or TypeCode.Int16 or TypeCode.Int32 or TypeCode.Int64 => true,
        _ => null,
    };

    private static string Signedness(bool signed) => signed ? "signed" : "unsigned";

    /// <summary>"struct x" or "union x" for a field of that type (not an array of it), else null.</summary>
    private static string? RecordName(string cType) =>
        !cType.Contains('[', StringComparison.Ordinal) && cType.Split(' ') is [("struct" or "union"), var name] ? name : null;
}
