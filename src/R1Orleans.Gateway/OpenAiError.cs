using System.Text.Json;

namespace R1Orleans.Gateway;

/// <summary>
/// An error answered in OpenAI's envelope <c>{"error":{"message","type","param","code"}}</c> with an HTTP status.
/// Thrown anywhere in a request before its response starts; the gateway middleware writes it.
/// </summary>
public sealed class OpenAiErrorException : Exception
{
    public OpenAiErrorException(int status, string type, string message, string? param = null, string? code = null)
        : base(message)
    {
        Status = status;
        Type = type;
        Param = param;
        Code = code;
    }

    public OpenAiErrorException()
        : this(500, ServerErrorType, "internal server error")
    {
    }

    public OpenAiErrorException(string message)
        : this(500, ServerErrorType, message)
    {
    }

    public OpenAiErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 500;
        Type = ServerErrorType;
    }

    public const string InvalidRequestType = "invalid_request_error";
    public const string ServerErrorType = "server_error";

    public int Status { get; }

    public string Type { get; }

    public string? Param { get; }

    public string? Code { get; }

    /// <summary>Seconds for a Retry-After header (429, 503), or null.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static OpenAiErrorException BadRequest(string message, string? param = null, string? code = null) =>
        new(400, InvalidRequestType, message, param, code);

    public static OpenAiErrorException WrongType(string param, string expected) =>
        BadRequest($"'{param}' must be {expected}", param, "invalid_type");

    public static OpenAiErrorException Missing(string param) =>
        BadRequest($"'{param}' is a required property", param, "missing_required_parameter");

    public static OpenAiErrorException Unsupported(string param, string why) =>
        BadRequest($"'{param}': {why}", param, "unsupported_parameter");

    /// <summary>Writes <c>{"error":{...}}</c>.</summary>
    public void WriteEnvelope(Utf8JsonWriter w) => WriteEnvelope(w, Message, Type, Param, Code);

    public static void WriteEnvelope(Utf8JsonWriter w, string message, string type, string? param, string? code)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        WriteNullable(w, "param", param);
        WriteNullable(w, "code", code);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
