namespace R1Orleans.Cuda.Forward;

/// <summary>How a CUDA model's steps run (<see cref="DeviceModelAccelerator.EnvironmentSwitch"/>).</summary>
public enum DeviceForwardMode
{
    /// <summary>The device-resident forward with float32 activations throughout: the golden numerics (the default).</summary>
    Exact,

    /// <summary>The device-resident forward with the FP8 experts and every dense matrix on tensor cores.</summary>
    Fast,

    /// <summary>Op by op through CudaBackend, every op's activations copied in and out.</summary>
    PerOp,
}

/// <summary>Reads the switch's value.</summary>
public static class DeviceForwardModes
{
    /// <summary>Unset, empty or 1: exact; fast; 0: op by op. Anything else is refused, naming the values taken.</summary>
    public static DeviceForwardMode Parse(string? value, string name) => value switch
    {
        null or "" or "1" => DeviceForwardMode.Exact,
        "fast" => DeviceForwardMode.Fast,
        "0" => DeviceForwardMode.PerOp,
        _ => throw new ArgumentException($"{name}='{value}': takes 1 (the default: the device-resident forward, float32 activations), fast (tensor cores) or 0 (op by op)"),
    };
}
