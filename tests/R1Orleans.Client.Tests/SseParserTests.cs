using System.Text;
using CsCheck;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class SseParserTests
{
    private static List<SseEvent> Parse(string text) => SseParser.ParseAll(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void DataLinesAreJoinedWithNewlines()
    {
        List<SseEvent> events = Parse("data: first\ndata: second\ndata:third\n\ndata: next\n\n");
        Assert.Equal(["first\nsecond\nthird", "next"], events.Select(e => e.Data));
        Assert.All(events, e => Assert.Equal("message", e.EventType));
    }

    [Fact]
    public void CommentsAndUnknownFieldsAreIgnored()
    {
        List<SseEvent> events = Parse(": keep-alive\n\n:another\ndata: a\nfoo: bar\n: inside\ndata: b\n\n");
        SseEvent e = Assert.Single(events);
        Assert.Equal("a\nb", e.Data);
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\r")]
    [InlineData("\n")]
    public void EveryLineEndingWorks(string eol)
    {
        List<SseEvent> events = Parse($"event: update{eol}id: 7{eol}data: x{eol}data: y{eol}{eol}data: z{eol}{eol}");
        Assert.Equal(2, events.Count);
        Assert.Equal(new SseEvent("update", "x\ny", "7"), events[0]);
        Assert.Equal(new SseEvent("message", "z", "7"), events[1]);
    }

    [Fact]
    public void OnlyOneSpaceAfterTheColonIsRemoved()
    {
        Assert.Equal("  two", Assert.Single(Parse("data:   two\n\n")).Data);
        Assert.Equal("", Assert.Single(Parse("data\n\n")).Data);
        Assert.Equal("\n", Assert.Single(Parse("data:\ndata\n\n")).Data);
    }

    [Fact]
    public void BlankLinesWithoutDataDispatchNothingAndResetTheType()
    {
        List<SseEvent> events = Parse("\n\n\nevent: ignored\n\ndata: d\n\n");
        Assert.Equal(new SseEvent("message", "d", null), Assert.Single(events));
    }

    [Fact]
    public void ByteOrderMarkIsSkippedAndAnUnterminatedLastEventIsKept()
    {
        List<SseEvent> events = SseParser.ParseAll([0xEF, 0xBB, 0xBF, .. "data: a\n\ndata: [DONE]"u8]);
        Assert.Equal(["a", "[DONE]"], events.Select(e => e.Data));
    }

    [Fact]
    public void MultiByteCharactersSplitAcrossChunksSurvive()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("data: 思考 🤔 ok\n\n");
        var parser = new SseParser();
        var events = new List<SseEvent>();
        foreach (byte b in bytes)
        {
            parser.Feed([b], events);
        }

        parser.Complete(events);
        Assert.Equal("思考 🤔 ok", Assert.Single(events).Data);
    }

    [Fact]
    public void CrLfSplitBetweenChunksIsOneLineEnding()
    {
        var parser = new SseParser();
        var events = new List<SseEvent>();
        parser.Feed("data: a\r"u8, events);
        parser.Feed("\n\r"u8, events);
        Assert.Single(events);
        parser.Feed("\ndata: b\r\n\r\n"u8, events);
        Assert.Equal(["a", "b"], events.Select(e => e.Data));
    }

    [Fact]
    public async Task ReadAsyncYieldsEventsFromATrickleStream()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("data: {\"a\":1}\n\n: c\n\ndata: [DONE]\n\n");
        using var stream = new TrickleStream(bytes);
        var events = new List<SseEvent>();
        await foreach (SseEvent e in SseParser.ReadAsync(stream))
        {
            events.Add(e);
        }

        Assert.Equal(["{\"a\":1}", "[DONE]"], events.Select(e => e.Data));
    }

    /// <summary>Any events, written with any line endings, comments and field spellings, and cut anywhere, parse back the same.</summary>
    [Fact]
    public void ArbitraryChunkingGivesTheSameEvents()
    {
        Gen<string> line = Gen.OneOf(Gen.String[Gen.Char['a', 'z'], 0, 8], Gen.Const("{\"x\":\"é🤔\"}"), Gen.Const("[DONE]"), Gen.Const(" lead"), Gen.Const(""));
        Gen<(string? Type, string? Id, string[] Data)> evt = Gen.Select(
            Gen.Int[0, 2].Select(i => i switch { 0 => null, 1 => "error", _ => (string?)"delta" }),
            Gen.Int[-1, 99].Select(i => i < 0 ? null : (string?)i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            line.Array[1, 4]);
        Gen.Select(evt.Array[0, 6], Gen.Int[0, 2].Array[64], Gen.Int[0, 3].Array[64], Gen.Int[1, 9].Array[1, 40]).Sample(
            (events, eols, styles, cuts) =>
            {
                var sb = new StringBuilder();
                int k = 0;
                string previous = "";
                string Eol()
                {
                    string eol = eols[k++ % eols.Length] switch { 0 => "\n", 1 => "\r\n", _ => "\r" };

                    // A lone CR followed by a lone LF would be one CRLF line ending: write CRLF then.
                    previous = previous == "\r" && eol == "\n" ? "\r\n" : eol;
                    return previous;
                }

                var expected = new List<SseEvent>();
                string? lastId = null;
                foreach ((string? type, string? id, string[] data) in events)
                {
                    if (styles[k % styles.Length] == 0)
                    {
                        sb.Append(": comment").Append(Eol());
                    }

                    if (type is not null)
                    {
                        sb.Append("event: ").Append(type).Append(Eol());
                    }

                    if (id is not null)
                    {
                        sb.Append("id:").Append(id).Append(Eol());
                        lastId = id;
                    }

                    foreach (string d in data)
                    {
                        // "data:x" and "data: x" mean the same; a value that starts with a space needs the separator space.
                        sb.Append(styles[k % styles.Length] == 1 && !d.StartsWith(' ') ? "data:" : "data: ").Append(d).Append(Eol());
                    }

                    sb.Append(Eol());
                    expected.Add(new SseEvent(type ?? "message", string.Join('\n', data), lastId));
                }

                byte[] bytes = Encoding.UTF8.GetBytes(sb.ToString());
                var parser = new SseParser();
                var actual = new List<SseEvent>();
                int at = 0, c = 0;
                while (at < bytes.Length)
                {
                    int n = Math.Min(cuts[c++ % cuts.Length], bytes.Length - at);
                    parser.Feed(bytes.AsSpan(at, n), actual);
                    at += n;
                }

                parser.Complete(actual);
                Assert.Equal(expected, actual);
                Assert.Equal(expected, SseParser.ParseAll(bytes));
            },
            iter: 3000);
    }

    /// <summary>Returns one byte per read, asynchronously, like a slow network.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
        }
    }
}
