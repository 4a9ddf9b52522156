using System.Text;

namespace R1Orleans.BuiltInModel;

/// <summary>
/// GPT-2's byte-level alphabet (<c>bytes_to_unicode</c>): each byte value as one printable character. <see cref="Order"/>
/// lists the bytes in the order GPT-2 builds the table (printable bytes first), which is the order of the base vocabulary.
/// </summary>
internal static class ByteLevel
{
    private static readonly char[] s_byteToChar = Build(out s_order);
    private static readonly byte[] s_order;

    /// <summary>The 256 byte values in <c>bytes_to_unicode</c> order.</summary>
    public static ReadOnlySpan<byte> Order => s_order;

    public static char ToChar(byte b) => s_byteToChar[b];

    /// <summary>The byte-level form of <paramref name="text"/>'s UTF-8 bytes.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = s_byteToChar[bytes[i]];
        }

        return new string(chars);
    }

    private static char[] Build(out byte[] order)
    {
        var map = new char[256];
        var seen = new bool[256];
        var list = new List<byte>(256);
        foreach ((int from, int to) in new[] { ('!', '~'), ('¡', '¬'), ('®', 'ÿ') })
        {
            for (int b = from; b <= to; b++)
            {
                map[b] = (char)b;
                seen[b] = true;
                list.Add((byte)b);
            }
        }

        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (!seen[b])
            {
                map[b] = (char)(256 + n++);
                list.Add((byte)b);
            }
        }

        order = [.. list];
        return map;
    }
}
