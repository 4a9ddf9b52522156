using System.Reflection;
using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>
/// Resolves the UCX libraries by their versioned sonames first (libucp.so.0: the runtime package libucx0 ships no
/// unversioned link), then the unversioned names (libucx-dev), and fails with what to install when none loads.
/// </summary>
internal static class UcxLibraryResolver
{
    private static readonly Lock s_gate = new();
    private static bool s_installed;

    /// <summary>The message of the exception thrown when UCX is not installed.</summary>
    public const string InstallHint = "install libucx0 (apt-get install -y libucx0)";

    /// <summary>Installs the resolver for this assembly (idempotent).</summary>
    public static void EnsureInstalled()
    {
        lock (s_gate)
        {
            if (s_installed)
                return;
            NativeLibrary.SetDllImportResolver(typeof(UcxLibraryResolver).Assembly, Resolve);
            s_installed = true;
        }
    }

    /// <summary>Candidate file names for a library name used in the bindings, most specific first.</summary>
    public static string[] Candidates(string libraryName) => libraryName switch
    {
        UcxLibraryNames.Ucp => ["libucp.so.0", "libucp.so"],
        UcxLibraryNames.Ucs => ["libucs.so.0", "libucs.so"],
        UcxLibraryNames.LibC => ["libc.so.6", "libc"],
        _ => [libraryName],
    };

    /// <summary>
    /// UCX settings applied before UCX first loads, unless the environment already sets them: UCX_ERROR_SIGNALS empty,
    /// so that UCX installs no SIGSEGV/SIGBUS/SIGILL/SIGFPE handler. Its handler (on by default) takes the signals the
    /// .NET runtime turns into NullReferenceException, printing "Caught signal 11" and ending the process on any
    /// managed null dereference in a process that has loaded UCX (seen: a test host crash in CI).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> LoadTimeDefaults = new Dictionary<string, string> { ["UCX_ERROR_SIGNALS"] = "" };

    private static bool s_defaultsApplied;

    /// <summary>Loads the first candidate that loads, or throws <see cref="DllNotFoundException"/> saying what to install.</summary>
    public static nint Load(string libraryName)
    {
        if (libraryName is UcxLibraryNames.Ucp or UcxLibraryNames.Ucs)
        {
            ApplyLoadTimeDefaults();
        }

        return Load(libraryName, Candidates(libraryName));
    }

    /// <summary>Sets <see cref="LoadTimeDefaults"/> in the native environment (once; existing values win).</summary>
    private static void ApplyLoadTimeDefaults()
    {
        lock (s_gate)
        {
            if (s_defaultsApplied)
                return;
            foreach (var (name, value) in LoadTimeDefaults)
            {
                if (LibC.SetEnv(name, value, overwrite: 0) != 0)
                    throw new InvalidOperationException($"setenv({name}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
            s_defaultsApplied = true;
        }
    }

    /// <summary>Loads the first of <paramref name="candidates"/> that loads.</summary>
    public static nint Load(string libraryName, string[] candidates)
    {
        foreach (var candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out var handle))
                return handle;
        }
        if (libraryName is UcxLibraryNames.Ucp or UcxLibraryNames.Ucs)
            throw new DllNotFoundException(
                $"UCX library '{libraryName}' not found (tried {string.Join(", ", candidates)}): {InstallHint}");
        throw new DllNotFoundException($"native library '{libraryName}' not found (tried {string.Join(", ", candidates)})");
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName is UcxLibraryNames.Ucp or UcxLibraryNames.Ucs or UcxLibraryNames.LibC ? Load(libraryName) : 0;
}
