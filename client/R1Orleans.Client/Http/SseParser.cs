using System.Runtime.CompilerServices;
using System.Text;

namespace R1Orleans.Client.Http;

/// <summary>One server-sent event: its type ("message" unless an <c>event:</c> field named one), its data lines joined by '\n', and the last event id.</summary>
public readonly record struct SseEvent(string EventType, string Data, string? Id)
{
    public const string DefaultType = "message";
}

/// <summary>
/// An incremental parser of the server-sent events wire format (WHATWG HTML §9.2): UTF-8 bytes in any chunking, lines ended by
/// CRLF, LF or CR, <c>:</c> comments, <c>data</c>/<c>event</c>/<c>id</c>/<c>retry</c> fields, one optional space after the colon,
/// multi-line data joined by '\n', a blank line dispatches. Unlike the browser algorithm, an event still pending when the stream
/// ends is dispatched (servers that omit the final blank line are common).
/// </summary>
public sealed class SseParser
{
    /// <summary>Longest line accepted; a longer one means a broken or hostile server.</summary>
    public const int MaxLineChars = 16 << 20;

    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly StringBuilder _line = new();
    private readonly StringBuilder _data = new();
    private char[] _chars = new char[4096];
    private bool _hasData;
    private string? _eventType;
    private string? _lastId;
    private bool _afterCr;
    private bool _started;

    /// <summary>The reconnection time a <c>retry:</c> field set, if any.</summary>
    public int? RetryMilliseconds { get; private set; }

    /// <summary>Parses the next bytes of the stream, appending every event they complete to <paramref name="events"/>.</summary>
    public void Feed(ReadOnlySpan<byte> bytes, List<SseEvent> events)
    {
        int max = _decoder.GetCharCount(bytes, flush: false);
        if (max > _chars.Length)
        {
            _chars = new char[Math.Max(max, _chars.Length * 2)];
        }

        int n = _decoder.GetChars(bytes, _chars, flush: false);
        Feed(_chars.AsSpan(0, n), events);
    }

    /// <summary>Parses the next characters of the stream (already decoded).</summary>
    public void Feed(ReadOnlySpan<char> chars, List<SseEvent> events)
    {
        if (!_started && chars.Length > 0)
        {
            _started = true;
            if (chars[0] == '\uFEFF')
            {
                chars = chars[1..];
            }
        }

        while (chars.Length > 0)
        {
            if (_afterCr)
            {
                _afterCr = false;
                if (chars[0] == '\n')
                {
                    chars = chars[1..];
                    continue;
                }
            }

            int end = chars.IndexOfAny('\r', '\n');
            if (end < 0)
            {
                Append(chars);
                return;
            }

            Append(chars[..end]);
            _afterCr = chars[end] == '\r';
            chars = chars[(end + 1)..];
            ProcessLine(events);
        }
    }

    /// <summary>The stream ended: flushes the decoder, ends a last unterminated line and dispatches a pending event.</summary>
    public void Complete(List<SseEvent> events)
    {
        int n = _decoder.GetChars(ReadOnlySpan<byte>.Empty, _chars, flush: true);
        Feed(_chars.AsSpan(0, n), events);
        if (_line.Length > 0)
        {
            ProcessLine(events);
        }

        Dispatch(events);
    }

    /// <summary>Reads events from a stream as its bytes arrive (each event is yielded as soon as its blank line is read).</summary>
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var parser = new SseParser();
        var events = new List<SseEvent>();
        byte[] buffer = new byte[16 * 1024];
        while (true)
        {
            int read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                parser.Complete(events);
            }
            else
            {
                parser.Feed(buffer.AsSpan(0, read), events);
            }

            foreach (SseEvent e in events)
            {
                yield return e;
            }

            events.Clear();
            if (read == 0)
            {
                yield break;
            }
        }
    }

    /// <summary>Parses a whole stream held in memory (tests, small bodies).</summary>
    public static List<SseEvent> ParseAll(ReadOnlySpan<byte> bytes)
    {
        var parser = new SseParser();
        var events = new List<SseEvent>();
        parser.Feed(bytes, events);
        parser.Complete(events);
        return events;
    }

    private void Append(ReadOnlySpan<char> chars)
    {
        if (_line.Length + chars.Length > MaxLineChars)
        {
            throw new InvalidDataException($"server-sent event line longer than {MaxLineChars} characters");
        }

        _line.Append(chars);
    }

    private void ProcessLine(List<SseEvent> events)
    {
        if (_line.Length == 0)
        {
            Dispatch(events);
            return;
        }

        string line = _line.ToString();
        _line.Clear();
        if (line[0] == ':')
        {
            return;
        }

        int colon = line.IndexOf(':', StringComparison.Ordinal);
        string field = colon < 0 ? line : line[..colon];
        string value = colon < 0 ? "" : line[(colon + 1)..];
        if (value.Length > 0 && value[0] == ' ')
        {
            value = value[1..];
        }

        switch (field)
        {
            case "data":
                if (_hasData)
                {
                    _data.Append('\n');
                }

                _data.Append(value);
                _hasData = true;
                break;
            case "event":
                _eventType = value;
                break;
            case "id":
                if (!value.Contains('\0', StringComparison.Ordinal))
                {
                    _lastId = value;
                }

                break;
            case "retry":
                if (value.Length > 0 && value.All(char.IsAsciiDigit) && int.TryParse(value, out int ms))
                {
                    RetryMilliseconds = ms;
                }

                break;
            default:
                break;
        }
    }

    private void Dispatch(List<SseEvent> events)
    {
        if (_hasData)
        {
            events.Add(new SseEvent(string.IsNullOrEmpty(_eventType) ? SseEvent.DefaultType : _eventType, _data.ToString(), _lastId));
        }

        _data.Clear();
        _hasData = false;
        _eventType = null;
    }
}
