using R1Orleans.Interop.Ucx.Native;

namespace R1Orleans.Interop.Ucx;

/// <summary>A UCX call failed: names the call and UCX's own text for the status (ucs_status_string).</summary>
public sealed class UcxException : Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    public UcxException(string call, int status, string statusText)
        : base($"{call} failed: {statusText} ({status})")
    {
        Call = call;
        Status = status;
        StatusText = statusText;
    }

    /// <summary>The UCX function that failed.</summary>
    public string Call { get; }

    /// <summary>The ucs_status_t value.</summary>
    public int Status { get; }

    /// <summary>ucs_status_string of <see cref="Status"/>.</summary>
    public string StatusText { get; }

    internal static UcxException From(string call, UcsStatus status) =>
        new(call, (int)status, UcsNative.StatusString(status));

    /// <summary>Throws unless the status is UCS_OK.</summary>
    internal static void Check(UcsStatus status, string call)
    {
        if (status != UcsStatus.Ok)
            throw From(call, status);
    }
}
