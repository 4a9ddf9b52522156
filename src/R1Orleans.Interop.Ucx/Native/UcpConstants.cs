namespace R1Orleans.Interop.Ucx.Native;

// Flag and enum values of UCX 1.13's ucp.h / ucp_def.h / ucs headers that the bindings use. Bits are UCS_BIT(n).

/// <summary>ucp_params_field.</summary>
[Flags]
internal enum UcpParamField : ulong
{
    Features = 1UL << 0,
    MtWorkersShared = 1UL << 5,
    EstimatedNumEps = 1UL << 6,
    Name = 1UL << 8,
}

/// <summary>ucp_feature.</summary>
[Flags]
internal enum UcpFeature : ulong
{
    Tag = 1UL << 0,
    Wakeup = 1UL << 4,
    Am = 1UL << 6,
}

/// <summary>ucp_worker_params_field.</summary>
[Flags]
internal enum UcpWorkerParamField : ulong
{
    ThreadMode = 1UL << 0,
    Events = 1UL << 2,
    Name = 1UL << 6,
}

/// <summary>ucs_thread_mode_t.</summary>
internal enum UcsThreadMode
{
    Single = 0,
    Serialized = 1,
    Multi = 2,
}

/// <summary>ucp_wakeup_event_types.</summary>
[Flags]
internal enum UcpWakeupEvent : uint
{
    Tx = 1U << 10,
    Rx = 1U << 11,
}

/// <summary>ucp_ep_params_field.</summary>
[Flags]
internal enum UcpEpParamField : ulong
{
    RemoteAddress = 1UL << 0,
    ErrHandlingMode = 1UL << 1,
    ErrHandler = 1UL << 2,
    UserData = 1UL << 3,
    Name = 1UL << 7,
}

/// <summary>ucp_err_handling_mode_t.</summary>
internal enum UcpErrHandlingMode
{
    None = 0,
    Peer = 1,
}

/// <summary>ucp_ep_close_flags_t.</summary>
[Flags]
internal enum UcpEpCloseFlag : uint
{
    Force = 1U << 0,
}

/// <summary>ucp_op_attr_t: which fields of ucp_request_param_t are set, and operation flags.</summary>
[Flags]
internal enum UcpOpAttr : uint
{
    FieldRequest = 1U << 0,
    FieldCallback = 1U << 1,
    FieldUserData = 1U << 2,
    FieldDatatype = 1U << 3,
    FieldFlags = 1U << 4,
    FieldMemoryType = 1U << 6,
    FieldRecvInfo = 1U << 7,
    NoImmediateCompletion = 1U << 16,
}

/// <summary>ucp_send_am_flags.</summary>
[Flags]
internal enum UcpAmSendFlag : uint
{
    Reply = 1U << 0,
    Eager = 1U << 1,
    Rndv = 1U << 2,
}

/// <summary>ucp_am_cb_flags.</summary>
[Flags]
internal enum UcpAmCbFlag : uint
{
    WholeMessage = 1U << 0,
    PersistentData = 1U << 1,
}

/// <summary>ucp_am_handler_param_field.</summary>
[Flags]
internal enum UcpAmHandlerParamField : ulong
{
    Id = 1UL << 0,
    Flags = 1UL << 1,
    Callback = 1UL << 2,
    Arg = 1UL << 3,
}

/// <summary>ucp_am_recv_attr_t.</summary>
[Flags]
internal enum UcpAmRecvAttr : ulong
{
    FieldReplyEp = 1UL << 0,
    FlagData = 1UL << 16,
    FlagRndv = 1UL << 17,
}

/// <summary>Datatype helpers (ucp_dt_make_contig).</summary>
internal static class UcpDatatype
{
    /// <summary>ucp_dt_make_contig(1): contiguous bytes.</summary>
    public const ulong ContiguousBytes = (1UL << 3) | 0;
}
