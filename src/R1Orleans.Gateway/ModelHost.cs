using System.Diagnostics.CodeAnalysis;
using R1Orleans.Engine.Api;

namespace R1Orleans.Gateway;

/// <summary>What /v1/models says about the served model.</summary>
/// <param name="Id">The model name clients send as <c>model</c> (and /v1/models lists).</param>
/// <param name="OwnedBy">The <c>owned_by</c> field.</param>
/// <param name="Description">Said plainly, e.g. "built-in random-weight model: output is noise".</param>
/// <param name="Created">When the model was created or loaded (the <c>created</c> field, in Unix seconds).</param>
public sealed record ServedModelInfo(string Id, string OwnedBy, string Description, DateTimeOffset Created);

/// <summary>
/// The gateway's one model (a singleton): empty while the silo loads it, then the loaded engine. Every request reads
/// the engine and its description together, so a request never sees one without the other.
/// </summary>
public sealed class ModelHost
{
    private volatile Served? _served;
    private volatile string _loadingStatus = "starting";

    public bool IsReady => _served is not null;

    public InferenceEngine? Engine => _served?.Engine;

    public ServedModelInfo? Info => _served?.Info;

    /// <summary>What the loader is doing (shown by /health while not ready).</summary>
    public string LoadingStatus => _loadingStatus;

    /// <summary>Serves <paramref name="engine"/> from now on (/health turns 200). The caller keeps ownership of the engine.</summary>
    public void SetReady(InferenceEngine engine, ServedModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(info);
        ArgumentException.ThrowIfNullOrWhiteSpace(info.Id);

        // The prompt length bound reads the tokenizer once; do it now rather than in the first large request.
        _ = PromptLengthBound.Of(engine);
        _served = new Served(engine, info);
        _loadingStatus = "ready";
    }

    /// <summary>Optional: a progress line while loading (e.g. InferenceEngine.Load's progress callback).</summary>
    public void SetLoadingStatus(string status)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (_served is null)
        {
            _loadingStatus = status;
        }
    }

    internal bool TryGet([MaybeNullWhen(false)] out InferenceEngine engine, [MaybeNullWhen(false)] out ServedModelInfo info)
    {
        Served? s = _served;
        engine = s?.Engine;
        info = s?.Info;
        return s is not null;
    }

    private sealed record Served(InferenceEngine Engine, ServedModelInfo Info);
}
