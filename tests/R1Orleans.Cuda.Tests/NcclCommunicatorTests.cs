using System.Runtime.InteropServices;
using R1Orleans.Cuda.Nccl;

namespace R1Orleans.Cuda.Tests;

/// <summary>
/// A communicator of one rank on cuda:0 where NCCL and a GPU are present (the GPU session runs it); elsewhere, the
/// clear failure of the library probe, or of the device where NCCL loads without a driver.
/// </summary>
public class NcclCommunicatorTests
{
    [Fact]
    public async Task A_one_rank_communicator_sends_to_itself_through_a_grouped_exchange_or_nccl_is_reported_missing()
    {
        try
        {
            NcclLibrary.Load();
        }
        catch (CudaUnavailableException e)
        {
            Assert.Contains("NCCL (libnccl.so.2) was not found", e.Message, StringComparison.Ordinal);
            return;
        }

        if (!NativeLibrary.TryLoad("libcuda.so.1", out nint driver))
        {
            // NCCL from a pip wheel on a machine without a GPU: the device is what fails, and says so.
            CudaUnavailableException e = Assert.Throws<CudaUnavailableException>(() => CudaContext.Open(0));
            Assert.StartsWith("no CUDA driver was found", e.Message, StringComparison.Ordinal);
            return;
        }

        NativeLibrary.Free(driver);

        // On a worker, so that a hang fails the test instead of stalling the run (the deadlines should make that impossible).
        Task run = Task.Run(() =>
        {
            using CudaContext context = CudaContext.Open(0);
            NcclUniqueId id = NcclUniqueId.Create();
            using NcclCommunicator communicator = NcclCommunicator.Initialize(id, 1, 0, "test-g1/rank0", TimeSpan.FromSeconds(60));
            Assert.Equal(1, communicator.Ranks);
            Assert.Equal(0, communicator.Rank);

            float[] sent = [.. Enumerable.Range(0, 4096).Select(i => (i * 0.25f) - 100f)];
            using DeviceBuffer source = context.Allocate(sent.Length * sizeof(float));
            using DeviceBuffer target = context.Allocate(sent.Length * sizeof(float));
            source.Upload<float>(sent);
            target.Fill8(0xFF);
            using CudaStream stream = context.CreateStream();
            using CudaEvent done = context.CreateEvent();
            communicator.SendReceive(
                [new NcclTransfer(0, source.Pointer, sent.Length, NcclDataType.ncclFloat32)],
                [new NcclTransfer(0, target.Pointer, sent.Length, NcclDataType.ncclFloat32)],
                stream, "self exchange");
            done.Record(stream);
            communicator.WaitFor(done, "self exchange");
            Assert.Equal(sent, target.Download<float>(sent.Length));
        });
        Task first = await Task.WhenAny(run, Task.Delay(TimeSpan.FromMinutes(3)));
        Assert.True(first == run, "the one-rank NCCL exchange did not return");
        await run;
    }
}
