using System.Text;

namespace R1Orleans.Text.Tokenization;

/// <summary>
/// UTF-8 to text the way Rust's <c>String::from_utf8_lossy</c> (used by the Hugging Face ByteLevel decoder) does it:
/// each maximal ill-formed subpart becomes one U+FFFD. .NET's <see cref="Encoding.UTF8"/> follows the same Unicode
/// "maximal subpart" practice.
/// </summary>
internal static class Utf8Lossy
{
    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public static string Decode(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? string.Empty : s_utf8.GetString(bytes);

    /// <summary>
    /// The length of the longest prefix of <paramref name="bytes"/> that can be decoded now without changing the
    /// result once more bytes arrive: everything except a trailing sequence that is a valid but incomplete start of
    /// a UTF-8 character (at most 3 bytes). Invalid bytes are not held back: their U+FFFD does not depend on what follows.
    /// </summary>
    public static int CompletePrefixLength(ReadOnlySpan<byte> bytes)
    {
        int n = bytes.Length;
        // Find the last lead byte among the final 3 bytes; if the bytes from it to the end are a proper prefix of a
        // well-formed sequence, hold them back.
        for (int back = 1; back <= 3 && back <= n; back++)
        {
            int start = n - back;
            byte lead = bytes[start];
            if (lead < 0x80)
            {
                return n; // ASCII: nothing pending
            }

            if (lead < 0xC0)
            {
                continue; // continuation byte: keep looking for its lead
            }

            int need = SequenceLength(lead);
            if (need == 0 || back >= need)
            {
                return n; // invalid lead, or a complete (or over-long, hence already invalid) sequence
            }

            return IsValidPrefix(bytes[start..]) ? start : n;
        }

        return n;
    }

    /// <summary>Total length of the sequence a lead byte starts (2-4), or 0 for a byte that cannot start one.</summary>
    private static int SequenceLength(byte lead) => lead switch
    {
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 0,
    };

    /// <summary>Whether <paramref name="seq"/> (a lead byte and fewer continuation bytes than it needs) can still become a well-formed character.</summary>
    private static bool IsValidPrefix(ReadOnlySpan<byte> seq)
    {
        byte lead = seq[0];
        for (int i = 1; i < seq.Length; i++)
        {
            byte b = seq[i];
            (byte lo, byte hi) = i == 1 ? SecondByteRange(lead) : ((byte)0x80, (byte)0xBF);
            if (b < lo || b > hi)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The allowed range of the second byte (Unicode Table 3-7, well-formed UTF-8 byte sequences).</summary>
    private static (byte Lo, byte Hi) SecondByteRange(byte lead) => lead switch
    {
        0xE0 => (0xA0, 0xBF),
        0xED => (0x80, 0x9F),
        0xF0 => (0x90, 0xBF),
        0xF4 => (0x80, 0x8F),
        _ => (0x80, 0xBF),
    };
}
