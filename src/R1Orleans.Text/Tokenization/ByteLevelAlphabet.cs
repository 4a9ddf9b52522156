using System.Text;

namespace R1Orleans.Text.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet (<c>bytes_to_unicode</c>): each of the 256 byte values is written as one printable
/// character, so that a byte-level BPE vocabulary is plain text (a space is <c>Ġ</c>, a newline <c>Ċ</c>).
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    /// <summary>Byte + 1 for each alphabet character (0: not in the alphabet); the alphabet lies below U+0144.</summary>
    private static readonly short[] s_charToByte = BuildCharToByte();

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char ToChar(byte b) => s_byteToChar[b];

    /// <summary>The byte-level form of <paramref name="text"/>'s UTF-8 bytes.</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToArray());
        return string.Create(bytes.Length, bytes, static (dest, src) =>
        {
            for (int i = 0; i < src.Length; i++)
            {
                dest[i] = s_byteToChar[src[i]];
            }
        });
    }

    /// <summary>
    /// The bytes a vocabulary token stands for, as the Hugging Face ByteLevel decoder computes them: every character
    /// mapped back to its byte; a token holding any character outside the alphabet contributes its own UTF-8 bytes.
    /// </summary>
    public static byte[] TokenBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            int b = c < s_charToByte.Length ? s_charToByte[c] - 1 : -1;
            if (b < 0)
            {
                return Encoding.UTF8.GetBytes(token);
            }

            bytes[i] = (byte)b;
        }

        return bytes;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var direct = new bool[256];
        for (int b = '!'; b <= '~'; b++)
        {
            direct[b] = true;
        }

        for (int b = 0xA1; b <= 0xAC; b++)
        {
            direct[b] = true;
        }

        for (int b = 0xAE; b <= 0xFF; b++)
        {
            direct[b] = true;
        }

        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            map[b] = direct[b] ? (char)b : (char)(256 + n++);
        }

        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[s_byteToChar.Max() + 1];
        for (int b = 0; b < 256; b++)
        {
            map[s_byteToChar[b]] = (short)(b + 1);
        }

        return map;
    }
}
