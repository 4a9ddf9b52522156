namespace R1Orleans.Checkpoint;

/// <summary>A config.json field is missing, mistyped, or has a value this runtime does not support.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string field, string problem)
        : base($"config.json: field '{field}': {problem}")
    {
        Field = field;
    }

    public string Field { get; }
}
