using System.Globalization;
using System.Text;

namespace R1Orleans.Text.Chat;

/// <summary>
/// Splits template source into tokens as Jinja's lexer does: data, <c>{{ }}</c>, <c>{% %}</c>, <c>{# #}</c> and
/// <c>{% raw %}</c>, with <c>-</c>/<c>+</c> whitespace control, <c>trim_blocks</c>, <c>lstrip_blocks</c> and newline
/// normalization; inside tags: names, strings (Python escapes), integers, floats and operators.
/// </summary>
internal sealed class JinjaLexer
{
    private static readonly string[] s_twoCharOperators = ["//", "**", "==", "!=", ">=", "<="];
    private const string SingleCharOperators = "+-/*%~[](){}><=.:|,;";

    private readonly string _src;
    private readonly JinjaOptions _options;
    private readonly List<int> _lineStarts = [0];
    private readonly List<JinjaToken> _tokens = [];
    private int _pos;
    private bool _lineStarting = true;

    private JinjaLexer(string source, JinjaOptions options)
    {
        _src = source;
        _options = options;
        for (int i = 0; i < source.Length; i++)
        {
            if (source[i] == '\n')
            {
                _lineStarts.Add(i + 1);
            }
        }
    }

    /// <summary>
    /// Jinja's source preparation: <c>\r\n</c> and <c>\r</c> become <c>\n</c>, and one trailing newline is dropped
    /// unless <see cref="JinjaOptions.KeepTrailingNewline"/>.
    /// </summary>
    public static string Normalize(string source, bool keepTrailingNewline)
    {
        string s = source.Contains('\r', StringComparison.Ordinal)
            ? source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n')
            : source;
        return !keepTrailingNewline && s.EndsWith('\n') ? s[..^1] : s;
    }

    /// <summary>Tokenizes normalized source (see <see cref="Normalize"/>); the list ends with an Eof token.</summary>
    public static List<JinjaToken> Tokenize(string normalizedSource, JinjaOptions options)
    {
        var lexer = new JinjaLexer(normalizedSource, options);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        int n = _src.Length;
        while (_pos < n)
        {
            int open = FindTagStart(_pos);
            if (open < 0)
            {
                Emit(JinjaTokenKind.Data, _src[_pos..], _pos);
                _pos = n;
                break;
            }

            char kind = _src[open + 1];
            int after = open + 2;
            char sign = after < n && (_src[after] == '-' || _src[after] == '+') ? _src[after] : '\0';
            int rawBody = kind == '%' ? MatchRawBegin(after) : -1;
            string text = ApplyLeftStrip(_src[_pos..open], sign, kind == '{');
            if (text.Length > 0)
            {
                Emit(JinjaTokenKind.Data, text, _pos);
            }

            int tagBody = after + (sign != '\0' ? 1 : 0);
            if (rawBody >= 0)
            {
                _lineStarting = _src[rawBody - 1] == '\n';
                LexRaw(open, rawBody);
                continue;
            }

            switch (kind)
            {
                case '#':
                    LexComment(open, tagBody);
                    break;
                case '{':
                    Emit(JinjaTokenKind.VariableBegin, "{{", open);
                    _pos = tagBody;
                    LexTag(variable: true, open);
                    break;
                default:
                    Emit(JinjaTokenKind.BlockBegin, "{%", open);
                    _pos = tagBody;
                    LexTag(variable: false, open);
                    break;
            }
        }

        Emit(JinjaTokenKind.Eof, string.Empty, _src.Length);
    }

    private int FindTagStart(int from)
    {
        int i = from;
        while (true)
        {
            i = _src.IndexOf('{', i);
            if (i < 0 || i + 1 >= _src.Length)
            {
                return -1;
            }

            char c = _src[i + 1];
            if (c is '{' or '%' or '#')
            {
                return i;
            }

            i++;
        }
    }

    /// <summary>
    /// <c>{%-</c> strips all whitespace before the tag; with lstrip_blocks, a block or comment tag alone on its line
    /// (after only spaces and tabs) takes that indentation away, unless opened with <c>{%+</c>.
    /// </summary>
    private string ApplyLeftStrip(string text, char sign, bool isVariable)
    {
        if (sign == '-')
        {
            return text.TrimEnd();
        }

        if (sign != '+' && _options.LstripBlocks && !isVariable)
        {
            int lineStart = text.LastIndexOf('\n') + 1;
            if ((lineStart > 0 || _lineStarting) && lineStart < text.Length && IsAllWhitespace(text, lineStart))
            {
                return text[..lineStart];
            }
        }

        return text;
    }

    private static bool IsAllWhitespace(string text, int from)
    {
        for (int i = from; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Matches <c>\s*raw\s*(-%}\s*|%})</c> after <c>{%[-+]?</c>; returns the position after it, or -1.</summary>
    private int MatchRawBegin(int after)
    {
        int i = after;
        if (i < _src.Length && (_src[i] == '-' || _src[i] == '+'))
        {
            i++;
        }

        i = SkipWhitespace(i);
        if (!_src.AsSpan(i).StartsWith("raw", StringComparison.Ordinal))
        {
            return -1;
        }

        i = SkipWhitespace(i + 3);
        if (_src.AsSpan(i).StartsWith("-%}", StringComparison.Ordinal))
        {
            return SkipWhitespace(i + 3);
        }

        return _src.AsSpan(i).StartsWith("%}", StringComparison.Ordinal) ? i + 2 : -1;
    }

    private void LexRaw(int open, int body)
    {
        for (int i = _src.IndexOf("{%", body, StringComparison.Ordinal); i >= 0; i = _src.IndexOf("{%", i + 1, StringComparison.Ordinal))
        {
            int j = i + 2;
            char sign = j < _src.Length && (_src[j] == '-' || _src[j] == '+') ? _src[j] : '\0';
            if (sign != '\0')
            {
                j++;
            }

            j = SkipWhitespace(j);
            if (!_src.AsSpan(j).StartsWith("endraw", StringComparison.Ordinal))
            {
                continue;
            }

            j = SkipWhitespace(j + 6);
            int end = MatchBlockEnd(j);
            if (end < 0)
            {
                continue;
            }

            string text = ApplyLeftStrip(_src[body..i], sign, isVariable: false);
            if (text.Length > 0)
            {
                Emit(JinjaTokenKind.Data, text, body);
            }

            _pos = end;
            _lineStarting = _src[end - 1] == '\n';
            return;
        }

        throw Error("Missing end of raw directive", open);
    }

    /// <summary>Matches a block end (<c>+%}</c>, <c>-%}\s*</c>, <c>%}</c> plus a newline with trim_blocks) at <paramref name="i"/>.</summary>
    private int MatchBlockEnd(int i)
    {
        ReadOnlySpan<char> rest = _src.AsSpan(i);
        if (rest.StartsWith("+%}", StringComparison.Ordinal))
        {
            return i + 3;
        }

        if (rest.StartsWith("-%}", StringComparison.Ordinal))
        {
            return SkipWhitespace(i + 3);
        }

        if (rest.StartsWith("%}", StringComparison.Ordinal))
        {
            return _options.TrimBlocks && i + 2 < _src.Length && _src[i + 2] == '\n' ? i + 3 : i + 2;
        }

        return -1;
    }

    private void LexComment(int open, int body)
    {
        for (int i = body; i < _src.Length; i++)
        {
            ReadOnlySpan<char> rest = _src.AsSpan(i);
            int end;
            if (rest.StartsWith("+#}", StringComparison.Ordinal))
            {
                end = i + 3;
            }
            else if (rest.StartsWith("-#}", StringComparison.Ordinal))
            {
                end = SkipWhitespace(i + 3);
            }
            else if (rest.StartsWith("#}", StringComparison.Ordinal))
            {
                end = _options.TrimBlocks && i + 2 < _src.Length && _src[i + 2] == '\n' ? i + 3 : i + 2;
            }
            else
            {
                continue;
            }

            _pos = end;
            _lineStarting = _src[end - 1] == '\n';
            return;
        }

        throw Error("Missing end of comment tag", open);
    }

    private void LexTag(bool variable, int open)
    {
        var brackets = new Stack<(char Closer, int At)>();
        while (true)
        {
            if (_pos >= _src.Length)
            {
                throw Error(
                    brackets.Count > 0
                        ? $"unexpected end of template, '{brackets.Peek().Closer}' never closed"
                        : $"unexpected end of template, expected '{(variable ? "}}" : "%}")}'",
                    open);
            }

            if (brackets.Count == 0 && TryTagEnd(variable))
            {
                return;
            }

            char c = _src[_pos];
            if (char.IsWhiteSpace(c))
            {
                _pos++;
            }
            else if (char.IsAsciiDigit(c))
            {
                LexNumber();
            }
            else if (char.IsLetter(c) || c == '_')
            {
                int start = _pos;
                while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_'))
                {
                    _pos++;
                }

                Emit(JinjaTokenKind.Name, _src[start.._pos], start);
            }
            else if (c is '\'' or '"')
            {
                LexString();
            }
            else
            {
                LexOperator(brackets);
            }
        }
    }

    private bool TryTagEnd(bool variable)
    {
        int start = _pos;
        int end;
        if (variable)
        {
            ReadOnlySpan<char> rest = _src.AsSpan(_pos);
            end = rest.StartsWith("-}}", StringComparison.Ordinal) ? SkipWhitespace(_pos + 3)
                : rest.StartsWith("}}", StringComparison.Ordinal) ? _pos + 2
                : -1;
        }
        else
        {
            end = MatchBlockEnd(_pos);
        }

        if (end < 0)
        {
            return false;
        }

        Emit(variable ? JinjaTokenKind.VariableEnd : JinjaTokenKind.BlockEnd, variable ? "}}" : "%}", start);
        _pos = end;
        _lineStarting = _src[end - 1] == '\n';
        return true;
    }

    private void LexNumber()
    {
        int start = _pos;
        if (_src[_pos] == '0' && _pos + 1 < _src.Length && "bBoOxX".Contains(_src[_pos + 1], StringComparison.Ordinal))
        {
            int radix = char.ToLowerInvariant(_src[_pos + 1]) switch { 'b' => 2, 'o' => 8, _ => 16 };
            _pos += 2;
            int digitsStart = _pos;
            while (_pos < _src.Length && (Uri.IsHexDigit(_src[_pos]) || _src[_pos] == '_'))
            {
                _pos++;
            }

            string digits = _src[digitsStart.._pos].Replace("_", string.Empty, StringComparison.Ordinal);
            try
            {
                long value = Convert.ToInt64(digits, radix);
                Emit(JinjaTokenKind.Integer, _src[start.._pos], start, value);
                return;
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                throw Error($"invalid integer literal '{_src[start.._pos]}'", start);
            }
        }

        ScanDigits();
        bool isFloat = false;
        if (start == 0 || _src[start - 1] != '.')
        {
            if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
            {
                _pos++;
                ScanDigits();
                isFloat = true;
            }

            if (_pos < _src.Length && (_src[_pos] == 'e' || _src[_pos] == 'E'))
            {
                int p = _pos + 1;
                if (p < _src.Length && (_src[p] == '+' || _src[p] == '-'))
                {
                    p++;
                }

                if (p < _src.Length && char.IsAsciiDigit(_src[p]))
                {
                    _pos = p;
                    ScanDigits();
                    isFloat = true;
                }
            }
        }

        string text = _src[start.._pos];
        string clean = text.Replace("_", string.Empty, StringComparison.Ordinal);
        if (isFloat)
        {
            Emit(JinjaTokenKind.Float, text, start, double.Parse(clean, NumberStyles.Float, CultureInfo.InvariantCulture));
        }
        else if (long.TryParse(clean, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            Emit(JinjaTokenKind.Integer, text, start, value);
        }
        else
        {
            throw Error($"integer literal '{text}' is too large", start);
        }
    }

    private void ScanDigits()
    {
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos])
            || (_src[_pos] == '_' && _pos + 1 < _src.Length && char.IsAsciiDigit(_src[_pos + 1]))))
        {
            _pos++;
        }
    }

    private void LexString()
    {
        int start = _pos;
        char quote = _src[_pos];
        int i = _pos + 1;
        while (i < _src.Length && _src[i] != quote)
        {
            i += _src[i] == '\\' ? 2 : 1;
        }

        if (i >= _src.Length)
        {
            throw Error("unterminated string literal", start);
        }

        string value = Unescape(_src, start + 1, i, start);
        _pos = i + 1;
        Emit(JinjaTokenKind.String, value, start);
    }

    /// <summary>Python's <c>unicode-escape</c> decoding, which Jinja applies to string literals.</summary>
    private string Unescape(string s, int from, int to, int tokenStart)
    {
        if (s.IndexOf('\\', from, to - from) < 0)
        {
            return s[from..to];
        }

        var sb = new StringBuilder(to - from);
        for (int i = from; i < to; i++)
        {
            char c = s[i];
            if (c != '\\' || i + 1 >= to)
            {
                sb.Append(c);
                continue;
            }

            char d = s[++i];
            switch (d)
            {
                case '\n':
                    break;
                case '\\' or '\'' or '"':
                    sb.Append(d);
                    break;
                case 'a':
                    sb.Append('\a');
                    break;
                case 'b':
                    sb.Append('\b');
                    break;
                case 'f':
                    sb.Append('\f');
                    break;
                case 'n':
                    sb.Append('\n');
                    break;
                case 'r':
                    sb.Append('\r');
                    break;
                case 't':
                    sb.Append('\t');
                    break;
                case 'v':
                    sb.Append('\v');
                    break;
                case >= '0' and <= '7':
                    int octal = d - '0';
                    for (int k = 0; k < 2 && i + 1 < to && s[i + 1] is >= '0' and <= '7'; k++)
                    {
                        octal = (octal * 8) + (s[++i] - '0');
                    }

                    sb.Append((char)octal);
                    break;
                case 'x' or 'u' or 'U':
                    int width = d == 'x' ? 2 : d == 'u' ? 4 : 8;
                    if (i + width >= to)
                    {
                        throw Error($"truncated \\{d} escape in string literal", tokenStart);
                    }

                    string hex = s.Substring(i + 1, width);
                    if (!int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code)
                        || !hex.All(Uri.IsHexDigit) || code > 0x10FFFF)
                    {
                        throw Error($"invalid \\{d} escape in string literal", tokenStart);
                    }

                    sb.Append(code is >= 0xD800 and <= 0xDFFF || code < 0x10000 ? ((char)code).ToString() : char.ConvertFromUtf32(code));
                    i += width;
                    break;
                case 'N':
                    throw Error("\\N{...} escapes are not supported in string literals", tokenStart);
                default:
                    sb.Append('\\').Append(d);
                    break;
            }
        }

        return sb.ToString();
    }

    private void LexOperator(Stack<(char Closer, int At)> brackets)
    {
        int start = _pos;
        foreach (string op in s_twoCharOperators)
        {
            if (_src.AsSpan(_pos).StartsWith(op, StringComparison.Ordinal))
            {
                _pos += 2;
                Emit(JinjaTokenKind.Operator, op, start);
                return;
            }
        }

        char c = _src[_pos];
        if (!SingleCharOperators.Contains(c, StringComparison.Ordinal))
        {
            throw Error($"unexpected char '{c}'", start);
        }

        switch (c)
        {
            case '(':
                brackets.Push((')', start));
                break;
            case '[':
                brackets.Push((']', start));
                break;
            case '{':
                brackets.Push(('}', start));
                break;
            case ')' or ']' or '}':
                if (brackets.Count == 0)
                {
                    throw Error($"unexpected '{c}'", start);
                }

                char expected = brackets.Pop().Closer;
                if (expected != c)
                {
                    throw Error($"unexpected '{c}', expected '{expected}'", start);
                }

                break;
        }

        _pos++;
        Emit(JinjaTokenKind.Operator, c.ToString(), start);
    }

    private int SkipWhitespace(int i)
    {
        while (i < _src.Length && char.IsWhiteSpace(_src[i]))
        {
            i++;
        }

        return i;
    }

    private void Emit(JinjaTokenKind kind, string value, int offset, object? literal = null)
    {
        (int line, int column) = Position(offset);
        _tokens.Add(new JinjaToken(kind, value, line, column, literal));
    }

    private (int Line, int Column) Position(int offset)
    {
        int index = _lineStarts.BinarySearch(offset);
        if (index < 0)
        {
            index = ~index - 1;
        }

        return (index + 1, offset - _lineStarts[index] + 1);
    }

    private TemplateException Error(string message, int offset)
    {
        (int line, int column) = Position(offset);
        return new TemplateException(message, line, column);
    }
}
