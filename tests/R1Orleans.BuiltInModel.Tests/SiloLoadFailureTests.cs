using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Client.Chaos;
using R1Orleans.Silo;

using R1Orleans.Tests.Shared;

namespace R1Orleans.BuiltInModel.Tests;

/// <summary>A checkpoint that cannot be served stops the silo at load with a message naming what is wrong; the switch that allows it does.</summary>
public sealed class SiloLoadFailureTests
{
    [Fact]
    public async Task A_nan_weight_fails_the_load_naming_the_tensor_unless_allowed()
    {
        string dir = CopyShippedModel();
        try
        {
            PoisonFirstElement(Path.Combine(dir, "model-00001-of-00002.safetensors"), "model.layers.0.input_layernorm.weight");

            Exception e = await LoadFailure(dir);
            Assert.Contains("model.layers.0.input_layernorm.weight", e.Message, StringComparison.Ordinal);
            Assert.Contains("NaN", e.Message, StringComparison.Ordinal);
            Assert.Contains("--allow-nonfinite-weights", e.Message, StringComparison.Ordinal);

            WebApplication app = SiloHost.Build([.. Args(dir), "--allow-nonfinite-weights"]);
            try
            {
                await app.StartAsync();
                await app.Services.GetRequiredService<ModelLoaderService>().Ready.WaitAsync(TimeSpan.FromSeconds(60));
            }
            finally
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_weights_file_that_is_a_device_fails_the_load_saying_so()
    {
        string dir = CopyShippedModel();
        try
        {
            string shard = Path.Combine(dir, "model-00002-of-00002.safetensors");
            File.Delete(shard);
            File.CreateSymbolicLink(shard, "/dev/zero");

            Exception e = await LoadFailure(dir);
            Assert.Contains("not a regular file", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<Exception> LoadFailure(string dir)
    {
        WebApplication app = SiloHost.Build(Args(dir));
        try
        {
            await app.StartAsync();
            ModelLoaderService loader = app.Services.GetRequiredService<ModelLoaderService>();
            Exception e = await Assert.ThrowsAnyAsync<Exception>(() => loader.Ready.WaitAsync(TimeSpan.FromSeconds(60)));
            Assert.True(loader.Failed);
            return e;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Environment.ExitCode = 0;
        }
    }

    private static string CopyShippedModel()
    {
        string target = Directory.CreateTempSubdirectory("r1-silo-model-").FullName;
        foreach (string f in Directory.EnumerateFiles(ModelOptions.ShippedModelDirectory))
        {
            File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        }

        return target;
    }

    /// <summary>Writes a BF16 NaN (0x7FC0) over the first element of a BF16 tensor, in place.</summary>
    private static void PoisonFirstElement(string file, string tensor)
    {
        using FileStream s = File.Open(file, FileMode.Open, FileAccess.ReadWrite);
        byte[] lengthBytes = new byte[8];
        s.ReadExactly(lengthBytes);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        byte[] header = new byte[headerLength];
        s.ReadExactly(header);
        using JsonDocument doc = JsonDocument.Parse(header);
        JsonElement entry = doc.RootElement.GetProperty(tensor);
        Assert.Equal("BF16", entry.GetProperty("dtype").GetString());
        long offset = 8 + headerLength + entry.GetProperty("data_offsets")[0].GetInt64();
        s.Position = offset;
        s.Write([0xC0, 0x7F]);
    }

    private static string[] Args(string model) =>
    [
        "--model", model, "--urls", "http://127.0.0.1:0", "--silo-port", $"{LoopbackPorts.Free()}", "--gateway-port", $"{LoopbackPorts.Free()}",
        "--kv-cache-tokens", "1024", "--Logging:LogLevel:Default", "Warning",
    ];
}
