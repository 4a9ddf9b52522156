using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Client.Chaos;
using R1Orleans.Silo;
using R1Orleans.Silo.Startup;

using R1Orleans.Tests.Shared;

namespace R1Orleans.BuiltInModel.Tests;

/// <summary>
/// Every start-up failure is one clear message and exit code 2 (bad settings) or 1 (load failure), never an
/// unhandled-exception abort (exit 134) or a stack trace.
/// </summary>
public sealed class SiloStartupTests
{
    [Fact]
    public async Task A_value_that_is_not_a_number_exits_2_with_a_message_and_no_stack_trace_in_a_real_process()
    {
        string silo = Path.Combine(AppContext.BaseDirectory, "r1-silo.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in (string[])[silo, "--kv-cache-tokens", "abc", "--urls", "http://127.0.0.1:0"])
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        try
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            string output = await stdout + await stderr;

            Assert.Equal(2, process.ExitCode);
            Assert.Contains("Model:KvCacheTokens (--kv-cache-tokens) is 'abc'; expected a whole number", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Theory]
    [InlineData("--kv-cache-token", "did you mean '--kv-cache-tokens'?")]
    [InlineData("--max-num-seq", "did you mean '--max-num-seqs'?")]
    [InlineData("--Model:KvCacheToken", "did you mean '--Model:KvCacheTokens'?")]
    [InlineData("--Gateway:MaxWaitng", "did you mean '--Gateway:MaxWaiting'?")]
    [InlineData("--no-such-switch-at-all", "unknown option '--no-such-switch-at-all'")]
    public async Task An_unknown_switch_exits_2_naming_the_closest_valid_one(string typed, string expected)
    {
        (int code, string error) = await Run(typed, "5");
        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains($"'{typed}'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stray_argument_and_a_switch_without_its_value_exit_2()
    {
        (int code, string error) = await Run("serve", "--threads");
        Assert.Equal(2, code);
        Assert.Contains("unexpected argument 'serve'", error, StringComparison.Ordinal);
        Assert.Contains("option '--threads' needs a value", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_of_the_wrong_type_from_any_source_names_the_setting_and_its_switch()
    {
        (int code, string error) = await Run("--speculative-mtp", "maybe", "--Gateway:MaxWaiting", "lots");
        Assert.Equal(2, code);
        Assert.Contains("Model:SpeculativeMtp (--speculative-mtp) is 'maybe'; expected true or false", error, StringComparison.Ordinal);
        Assert.Contains("Gateway:MaxWaiting is 'lots'; expected a whole number", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_http_port_in_use_exits_2_naming_the_port_and_how_to_pick_another()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        (int code, string error) = await Run("--urls", $"http://127.0.0.1:{port}", "--silo-port", "0", "--gateway-port", "0");
        Assert.Equal(2, code);
        Assert.Contains($"the HTTP port {port} (--urls) is already in use", error, StringComparison.Ordinal);
        Assert.Contains("--urls http://127.0.0.1:PORT", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--silo-port", "Orleans silo")]
    [InlineData("--gateway-port", "Orleans gateway")]
    public async Task An_orleans_port_in_use_exits_2_naming_the_port_and_the_switch(string option, string what)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        string other = option == "--silo-port" ? "--gateway-port" : "--silo-port";

        (int code, string error) = await Run("--urls", "http://127.0.0.1:0", option, port.ToString(System.Globalization.CultureInfo.InvariantCulture), other, "0");
        Assert.Equal(2, code);
        Assert.Contains($"the {what} port {port} ({option}) is already in use", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_silo_on_a_running_silos_orleans_port_refuses_to_start()
    {
        // Orleans listens with address reuse: without the check, the second silo listened on the same port too.
        string cache = Directory.CreateTempSubdirectory("r1-silo-clash-").FullName;
        int siloPort = LoopbackPorts.Free(), gatewayPort = LoopbackPorts.Free();
        string[] first = ["--urls", "http://127.0.0.1:0", "--cache-dir", cache, "--model", ModelOptions.RandomBuiltIn, "--kv-cache-tokens", "1024",
            "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", "--Logging:LogLevel:Default", "Warning"];
        WebApplication running = SiloHost.Build(first);
        try
        {
            await running.StartAsync();

            (int code, string error) = await Run("--urls", "http://127.0.0.1:0", "--silo-port", $"{siloPort}", "--gateway-port", $"{LoopbackPorts.Free()}");
            Assert.Equal(2, code);
            Assert.Contains($"the Orleans silo port {siloPort} (--silo-port) is already in use", error, StringComparison.Ordinal);

            (code, error) = await Run("--urls", "http://127.0.0.1:0", "--silo-port", $"{LoopbackPorts.Free()}", "--gateway-port", $"{gatewayPort}");
            Assert.Equal(2, code);
            Assert.Contains($"the Orleans gateway port {gatewayPort} (--gateway-port) is already in use", error, StringComparison.Ordinal);
        }
        finally
        {
            // The model loads in the background and a stopping host does not wait for it (it cannot be interrupted):
            // let it finish before its cache is deleted (a CI run failed deleting a file the generator was removing).
            await running.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromMinutes(5));
            await running.StopAsync();
            await running.DisposeAsync();
            Environment.ExitCode = 0;
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void Kestrel_urls_resolve_to_the_endpoints_it_binds()
    {
        IReadOnlyList<IPEndPoint> endpoints = PortCheck.HttpEndpoints("http://127.0.0.1:8000; http://localhost:8001;http://*:8002;http://+:8003;https://example.test:8004;http://127.0.0.1:0");
        Assert.Equal(
            [new IPEndPoint(IPAddress.Loopback, 8000), new IPEndPoint(IPAddress.Loopback, 8001), new IPEndPoint(IPAddress.Any, 8002),
             new IPEndPoint(IPAddress.Any, 8003), new IPEndPoint(IPAddress.Any, 8004)],
            endpoints);
    }

    [Theory]
    [InlineData("--kv-cache-token", "--kv-cache-tokens", 1)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("", "abc", 3)]
    [InlineData("same", "SAME", 4)]
    public void Edit_distance_counts_insertions_deletions_and_substitutions(string a, string b, int expected) =>
        Assert.Equal(expected, ClosestName.Distance(a, b));

    private static async Task<(int Code, string Error)> Run(params string[] args)
    {
        using var error = new StringWriter();
        int code = await SiloHost.RunAsync(args, error).WaitAsync(TimeSpan.FromSeconds(60));
        Environment.ExitCode = 0;
        return (code, error.ToString());
    }
}
