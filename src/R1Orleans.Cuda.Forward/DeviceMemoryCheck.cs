namespace R1Orleans.Cuda.Forward;

/// <summary>
/// Refuses a model the device cannot hold before any of it is copied: a lower bound of what the device forward
/// uploads (the main layers' routed experts, the embedding and lm_head, as the host holds them) against the device's
/// free memory, with a message that says what to do instead of a cuMemAlloc failure part-way through the upload.
/// </summary>
public static class DeviceMemoryCheck
{
    public static void Require(long neededBytes, long freeBytes, string device)
    {
        if (neededBytes > freeBytes)
        {
            throw new InvalidOperationException(
                $"the model needs at least {neededBytes / 1e9:0.0} GB on {device} (its routed experts, embedding and lm_head alone); "
                + $"{freeBytes / 1e9:0.0} GB are free there. Spread its experts over several silos (the cluster), or use a device with more memory");
        }
    }
}
