namespace R1Orleans.Interop.Ucx.Native;

/// <summary>The native library names the bindings import, in one place.</summary>
internal static class UcxLibraryNames
{
    /// <summary>UCX's protocol layer (Debian package libucx0).</summary>
    public const string Ucp = "ucp";

    /// <summary>UCX's services layer (ucs_status_string).</summary>
    public const string Ucs = "ucs";

    /// <summary>The C library (epoll, eventfd).</summary>
    public const string LibC = "libc";
}
