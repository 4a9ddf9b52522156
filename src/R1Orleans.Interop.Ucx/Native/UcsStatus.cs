namespace R1Orleans.Interop.Ucx.Native;

/// <summary>ucs_status_t (ucs/type/status.h, UCX 1.13): 0 is success, 1 in progress, negatives are errors.</summary>
internal enum UcsStatus
{
    Ok = 0,
    InProgress = 1,
    NoMessage = -1,
    NoResource = -2,
    IoError = -3,
    NoMemory = -4,
    InvalidParam = -5,
    Unreachable = -6,
    InvalidAddr = -7,
    NotImplemented = -8,
    MessageTruncated = -9,
    NoProgress = -10,
    BufferTooSmall = -11,
    NoElem = -12,
    SomeConnectsFailed = -13,
    NoDevice = -14,
    Busy = -15,
    Canceled = -16,
    ShmemSegment = -17,
    AlreadyExists = -18,
    OutOfRange = -19,
    TimedOut = -20,
    ExceedsLimit = -21,
    Unsupported = -22,
    Rejected = -23,
    NotConnected = -24,
    ConnectionReset = -25,
    FirstLinkFailure = -40,
    LastLinkFailure = -59,
    FirstEndpointFailure = -60,
    EndpointTimeout = -80,
    LastEndpointFailure = -89,
    Last = -100,
}

/// <summary>ucs_status_ptr_t helpers: a pointer that is NULL (done), an error code, or a request.</summary>
internal static class UcsStatusPtr
{
    /// <summary>UCS_PTR_IS_ERR: the value is an error code cast to a pointer.</summary>
    public static bool IsError(nint ptr) => (nuint)ptr >= unchecked((nuint)(nint)UcsStatus.Last);

    /// <summary>UCS_PTR_IS_PTR: the value is a request handle.</summary>
    public static bool IsRequest(nint ptr) => (nuint)ptr - 1 < unchecked((nuint)(nint)UcsStatus.Last - 1);

    /// <summary>UCS_PTR_STATUS.</summary>
    public static UcsStatus Status(nint ptr) => IsRequest(ptr) ? UcsStatus.InProgress : (UcsStatus)(int)(long)ptr;

    /// <summary>True for the statuses that mean the remote peer is gone or cannot be reached.</summary>
    public static bool IsPeerFailure(UcsStatus status) =>
        status is UcsStatus.Unreachable or UcsStatus.ConnectionReset or UcsStatus.NotConnected or UcsStatus.Canceled
            or UcsStatus.IoError or UcsStatus.TimedOut or UcsStatus.Rejected
        || (status <= UcsStatus.FirstLinkFailure && status >= UcsStatus.LastEndpointFailure);
}
