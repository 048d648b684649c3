using System.Runtime.Versioning;

// The tests drive Linux uprobes and ELF tools: they run on Linux only.
[assembly: SupportedOSPlatform("linux")]
