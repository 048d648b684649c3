namespace Utrace.Native.Elf;

/// <summary>A file that cannot be read as an x86_64 executable or shared library.</summary>
internal sealed class ElfFormatException : Exception
{
    public ElfFormatException(string path, string problem, Exception? innerException = null)
        : base($"'{path}' {problem}.", innerException)
    {
        FilePath = path;
    }

    /// <summary>The file as it was given.</summary>
    public string FilePath { get; }
}
