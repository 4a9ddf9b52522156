using R1Orleans.Interop.Ucx.Native;

namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>Configuration, status checking and the native library resolver.</summary>
public sealed class NodeConfigurationTests
{
    [Fact]
    public void Invalid_UCX_value_fails_the_node_with_a_UcxException_naming_the_call_and_UCX_status_text()
    {
        // (An unknown name is not an error here: ucp_config_modify keeps it for the transports, and UCX only warns
        // "invalid configuration" when the worker is created.)
        var error = Assert.Throws<UcxException>(() => new UcxNode(new UcxNodeOptions
        {
            ConfigOverrides = new Dictionary<string, string> { ["KEEPALIVE_INTERVAL"] = "not-a-time" },
        }));

        Assert.Equal("ucp_config_modify(KEEPALIVE_INTERVAL=not-a-time)", error.Call);
        Assert.Equal(UcsNative.StatusString((UcsStatus)error.Status), error.StatusText);
        Assert.Contains(error.StatusText, error.Message);
    }

    [Fact]
    public void Status_text_comes_from_ucs_status_string()
    {
        Assert.Equal("Destination is unreachable", UcsNative.StatusString(UcsStatus.Unreachable));
        var error = UcxException.From("ucp_ep_create", UcsStatus.Unreachable);
        Assert.Equal("ucp_ep_create failed: Destination is unreachable (-6)", error.Message);
    }

    [Fact]
    public void Worker_address_is_published_as_bytes_and_differs_between_nodes()
    {
        using var a = TestTransports.Node("shm", "a");
        using var b = TestTransports.Node("shm", "b");
        Assert.False(a.WorkerAddress.IsEmpty);
        Assert.False(a.WorkerAddress.Span.SequenceEqual(b.WorkerAddress.Span));
    }

    [Fact]
    public void Missing_UCX_library_names_the_package_to_install()
    {
        var error = Assert.Throws<DllNotFoundException>(
            () => UcxLibraryResolver.Load(UcxLibraryNames.Ucp, ["libucp-r1-missing.so.0", "libucp-r1-missing.so"]));
        Assert.Contains("install libucx0 (apt-get install -y libucx0)", error.Message);
    }

    [Fact]
    public void Resolver_prefers_the_versioned_soname_of_the_runtime_package() =>
        Assert.Equal(["libucp.so.0", "libucp.so"], UcxLibraryResolver.Candidates(UcxLibraryNames.Ucp));

    [Theory]
    [InlineData("all", true)]
    [InlineData("posix,cma,self", true)]
    [InlineData("sm", true)]
    [InlineData("^ib", true)]
    [InlineData("tcp,self", false)]
    [InlineData("tcp", false)]
    public void Shared_memory_error_handling_is_set_only_when_the_TLS_list_can_select_shared_memory(string tls, bool expected) =>
        Assert.Equal(expected, UcxNode.MayUseSharedMemory(tls));

    [Fact]
    public void Pool_hands_out_pinned_buffers_of_at_least_the_length_and_reuses_returned_ones()
    {
        var pool = new PinnedBufferPool();
        var buffer = pool.Rent(5000);
        Assert.True(buffer.Length >= 5000);
        Assert.Equal(8192, buffer.Length);
        pool.Return(buffer);
        Assert.Same(buffer, pool.Rent(8000));
        Assert.Throws<ArgumentException>(() => pool.Return(new byte[1000]));
    }
}
