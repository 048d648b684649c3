using System.Runtime.Versioning;

// The engine drives Linux uprobes: nothing in it runs elsewhere.
[assembly: SupportedOSPlatform("linux")]
