using System.Text.Json;

namespace R1Orleans.Checkpoint;

/// <summary>model.safetensors.index.json: which shard file holds each tensor.</summary>
public static class ShardIndex
{
    public const string FileName = "model.safetensors.index.json";
    public const long MaxIndexBytes = 64L * 1024 * 1024;

    public static IReadOnlyDictionary<string, string> Load(string path)
    {
        try
        {
            return LoadDocument(path);
        }
        catch (InvalidOperationException e)
        {
            // JsonDocument checks strings lazily: invalid UTF-8 or a lone surrogate escape surfaces only when a name or value is read.
            throw new CheckpointFormatException(path, null, $"index holds a string that is not valid UTF-8 or UTF-16: {e.Message}", e);
        }
    }

    private static IReadOnlyDictionary<string, string> LoadDocument(string path)
    {
        byte[] bytes = RegularFile.ReadAllBytes(
            path, MaxIndexBytes, length => new CheckpointFormatException(path, null, $"index is {length} bytes, over the {MaxIndexBytes}-byte cap"));
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, null, $"index is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out JsonElement map)
                || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointFormatException(path, null, "index has no 'weight_map' object");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    throw new CheckpointFormatException(path, p.Name, "weight_map value is not a file name string");
                }

                string shard = p.Value.GetString()!;
                if (shard.Length == 0 || shard.Contains('/') || shard.Contains('\\') || shard == "." || shard == ".."
                    || !shard.EndsWith(".safetensors", StringComparison.Ordinal))
                {
                    throw new CheckpointFormatException(path, p.Name, $"shard '{shard}' is not a plain .safetensors file name in this directory");
                }

                if (!result.TryAdd(p.Name, shard))
                {
                    throw new CheckpointFormatException(path, p.Name, "appears twice in weight_map");
                }
            }

            return result;
        }
    }
}
