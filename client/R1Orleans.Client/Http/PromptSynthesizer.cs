using System.Text;

namespace R1Orleans.Client.Http;

/// <summary>
/// Synthesizes benchmark prompts of roughly N tokens: N words drawn from common English words that byte-level BPE vocabularies
/// (DeepSeek-V3, GPT, Llama) hold as single tokens with their leading space. Deterministic per (seed, request index), and
/// different for each index so a server's prefix cache cannot serve one request from another.
/// </summary>
public sealed class PromptSynthesizer
{
    private static readonly string[] s_words =
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this",
        "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one", "all",
        "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "time", "people",
        "year", "way", "day", "man", "thing", "woman", "life", "child", "world", "school", "state", "family", "student",
        "group", "country", "problem", "hand", "part", "place", "case", "week", "company", "system", "program", "question",
        "work", "government", "number", "night", "point", "home", "water", "room", "mother", "area", "money", "story", "fact",
        "month", "lot", "right", "study", "book", "eye", "job", "word", "business", "issue", "side", "kind", "head", "house",
        "service", "friend", "father", "power", "hour", "game", "line", "end", "member", "law", "car", "city", "community",
        "name", "president", "team", "minute", "idea", "kid", "body", "information", "back", "parent", "face", "others",
        "level", "office", "door", "health", "person", "art", "war", "history", "party", "result", "change", "morning",
        "reason", "research", "girl", "guy", "moment", "air", "teacher", "force", "education", "good", "new", "first", "last",
        "long", "great", "little", "own", "other", "old", "big", "high", "different", "small", "large", "next", "early",
        "young", "important", "few", "public", "bad", "same", "able", "make", "know", "take", "see", "come", "think", "look",
        "want", "give", "use", "find", "tell", "ask", "seem", "feel", "try", "leave", "call", "river", "stone", "light",
    ];

    private readonly int _seed;

    public PromptSynthesizer(int seed) => _seed = seed;

    /// <summary>The word list (each roughly one token).</summary>
    public static IReadOnlyList<string> Words => s_words;

    /// <summary>A prompt of <paramref name="tokens"/> words for request <paramref name="index"/>.</summary>
    public string Create(int index, int tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        var random = new Random(StreamSeed(_seed, index));
        var sb = new StringBuilder(tokens * 7);
        for (int i = 0; i < tokens; i++)
        {
            if (i > 0)
            {
                sb.Append(' ');
            }

            sb.Append(s_words[random.Next(s_words.Length)]);
        }

        return sb.ToString();
    }

    /// <summary>A seed for substream <paramref name="index"/> of <paramref name="seed"/>, the same in every process (SplitMix64's finalizer).</summary>
    public static int StreamSeed(int seed, int index)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }
}
