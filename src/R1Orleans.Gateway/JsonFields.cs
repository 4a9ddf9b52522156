using System.Text.Json;

namespace R1Orleans.Gateway;

/// <summary>
/// Typed access to the fields of one JSON object of a request. A field that is absent or null is "not given"; a field
/// of the wrong type is a 400 naming it (<c>messages[2].content</c>, <c>stream_options.include_usage</c>).
/// </summary>
internal readonly struct JsonFields
{
    private readonly JsonElement _object;
    private readonly string _prefix;

    public JsonFields(JsonElement obj, string path)
    {
        if (obj.ValueKind != JsonValueKind.Object)
        {
            throw path.Length == 0
                ? OpenAiErrorException.BadRequest("the request body must be a JSON object")
                : OpenAiErrorException.WrongType(path, "an object");
        }

        _object = obj;
        _prefix = path;
    }

    public string PathOf(string name) => _prefix.Length == 0 ? name : $"{_prefix}.{name}";

    public bool TryGet(string name, out JsonElement value)
    {
        if (_object.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    public bool Has(string name) => TryGet(name, out _);

    public string? String(string name)
    {
        if (!TryGet(name, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw OpenAiErrorException.WrongType(PathOf(name), "a string");
    }

    public string RequiredString(string name) => String(name) ?? throw OpenAiErrorException.Missing(PathOf(name));

    public bool? Bool(string name)
    {
        if (!TryGet(name, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw OpenAiErrorException.WrongType(PathOf(name), "a boolean"),
        };
    }

    public double? Number(string name)
    {
        if (!TryGet(name, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d)
            ? d
            : throw OpenAiErrorException.WrongType(PathOf(name), "a number");
    }

    /// <summary>A float-valued parameter checked against its range here, in double, before narrowing.</summary>
    public float? Float(string name, double min, double max, bool minExclusive = false)
    {
        double? d = Number(name);
        if (d is not double x)
        {
            return null;
        }

        bool ok = (minExclusive ? x > min : x >= min) && x <= max;
        return ok
            ? (float)x
            : throw OpenAiErrorException.BadRequest($"'{PathOf(name)}' must be in {(minExclusive ? "(" : "[")}{min}, {max}], got {x}", PathOf(name), "invalid_value");
    }

    /// <summary>A 64-bit integer parameter (seed): beyond 64 bits, a 400 that states the range.</summary>
    public long? Integer(string name) => Integer(name, long.MinValue, long.MaxValue);

    /// <summary>
    /// An integer parameter that must lie in [min, max]. 3.0 and 1e12 are integers, 3.5 is not; a value out of range is a
    /// 400 stating the range and the value as sent (never clamped or wrapped first).
    /// </summary>
    public long? Integer(string name, long min, long max)
    {
        if (!TryGet(name, out JsonElement v))
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number)
        {
            throw OpenAiErrorException.WrongType(PathOf(name), "an integer");
        }

        string raw = v.GetRawText();
        if (!v.TryGetInt64(out long x))
        {
            // Exponent or fraction notation, or beyond 64 bits: decimal holds every integer up to ±7.9e28 exactly.
            if (decimal.TryParse(raw, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out decimal d))
            {
                if (d != decimal.Truncate(d))
                {
                    throw OpenAiErrorException.WrongType(PathOf(name), "an integer");
                }

                if (d < min || d > max)
                {
                    throw OutOfRange(name, min, max, raw);
                }

                x = (long)d;
            }
            else
            {
                // Larger than decimal (1e30, 1e400): an integer in JSON terms, far outside any range.
                throw OutOfRange(name, min, max, raw);
            }
        }

        return x >= min && x <= max ? x : throw OutOfRange(name, min, max, raw);
    }

    /// <summary>An integer parameter that must lie in [min, max] (both within int).</summary>
    public int? Int(string name, long min, long max) => (int?)Integer(name, min, max);

    private OpenAiErrorException OutOfRange(string name, long min, long max, string raw) =>
        OpenAiErrorException.BadRequest($"'{PathOf(name)}' must be in {min}..{max}, got {raw}", PathOf(name), "invalid_value");

    public JsonElement? Array(string name)
    {
        if (!TryGet(name, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.Array ? v : throw OpenAiErrorException.WrongType(PathOf(name), "an array");
    }

    public JsonFields? Object(string name)
    {
        if (!TryGet(name, out JsonElement v))
        {
            return null;
        }

        return new JsonFields(v, PathOf(name));
    }
}
