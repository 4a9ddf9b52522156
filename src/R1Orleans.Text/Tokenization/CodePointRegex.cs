using System.Globalization;
using System.Text;

namespace R1Orleans.Text.Tokenization;

/// <summary>
/// A linear-time regular expression engine over Unicode scalar values (a Pike VM), for the subset of Oniguruma syntax
/// that Hugging Face <c>tokenizers</c> pre-tokenizer patterns use.
/// </summary>
/// <remarks>
/// <para>Why not <see cref="System.Text.RegularExpressions.Regex"/>: .NET regular expressions match UTF-16 code units,
/// so <c>\p{L}</c>, <c>\p{S}</c>, <c>\p{N}</c> never match a character outside the Basic Multilingual Plane (its two
/// surrogates are category Cs). Hugging Face runs the same patterns with Oniguruma on UTF-8, where an emoji is
/// <c>\p{S}</c> and a CJK Extension B ideograph is <c>\p{L}</c>. With DeepSeek-V3's pattern this changes the
/// pre-tokenization of <c>" 🚀"</c> (Oniguruma: one piece <c>" ?[\p{P}\p{S}]+"</c>; .NET: a space, then unmatched
/// surrogates), hence the token ids (see the golden probe "Emoji and symbols: 🚀🔥✨ …"). .NET's non-backtracking
/// engine would also reject the <c>(?!\S)</c> lookahead. This engine decodes code points, classifies them with
/// <see cref="Rune.GetUnicodeCategory"/>, and runs in O(text × pattern) time whatever the input: there is no
/// backtracking to make catastrophic.</para>
/// <para>Semantics are Perl/Oniguruma leftmost-first (alternatives in order, greedy or lazy quantifiers), which a Pike
/// VM with thread priorities reproduces exactly for patterns without back-references.</para>
/// <para>Supported: literals, <c>.</c>, classes <c>[...]</c> / <c>[^...]</c> with ranges and escapes,
/// <c>\s \S \d \D \w \W</c>, <c>\p{..}</c> / <c>\P{..}</c> / <c>\pL</c> general categories, <c>\t \n \r \f \v \a \e
/// \0 \xHH \x{H..} \uHHHH</c>, groups <c>(...)</c> <c>(?:...)</c> <c>(?&lt;name&gt;...)</c>, inline flag <c>i</c>
/// (<c>(?i)</c>, <c>(?i:...)</c>), quantifiers <c>? * + {n} {n,} {n,m} {,m}</c> with lazy <c>?</c>, anchors
/// <c>^ $ \A \z \Z</c>, and lookaheads <c>(?=X)</c> / <c>(?!X)</c> whose body is one character class. Anything else
/// (back-references, lookbehind, atomic groups, possessive quantifiers, nested classes) is rejected at compile time
/// with <see cref="NotSupportedException"/>, never silently approximated.</para>
/// </remarks>
internal sealed class CodePointRegex
{
    /// <summary>Upper bound on compiled program size (bounded repetitions are expanded).</summary>
    private const int MaxProgramLength = 50_000;

    private readonly Inst[] _program;
    private readonly CharSet[] _sets;

    private CodePointRegex(string pattern, Inst[] program, CharSet[] sets)
    {
        Pattern = pattern;
        _program = program;
        _sets = sets;
    }

    /// <summary>The source pattern.</summary>
    public string Pattern { get; }

    /// <summary>Compiles an Oniguruma-syntax pattern.</summary>
    /// <exception cref="NotSupportedException">The pattern uses a construct outside the supported subset.</exception>
    /// <exception cref="ArgumentException">The pattern is malformed.</exception>
    public static CodePointRegex Compile(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        Node root = new Parser(pattern).ParseAll();
        var compiler = new Compiler(pattern);
        compiler.Emit(root);
        compiler.Add(new Inst(Op.Match, 0, 0));
        return new CodePointRegex(pattern, [.. compiler.Program], [.. compiler.Sets]);
    }

    /// <summary>A regex matching <paramref name="literal"/> exactly (the <c>{"String": ...}</c> form of a Split pattern).</summary>
    public static CodePointRegex Literal(string literal)
    {
        ArgumentNullException.ThrowIfNull(literal);
        var items = new List<Node>();
        foreach (Rune r in literal.EnumerateRunes())
        {
            items.Add(new SetNode(CharSet.Single(r.Value, ignoreCase: false)));
        }

        var compiler = new Compiler(literal);
        compiler.Emit(new ConcatNode(items));
        compiler.Add(new Inst(Op.Match, 0, 0));
        return new CodePointRegex(literal, [.. compiler.Program], [.. compiler.Sets]);
    }

    /// <summary>
    /// Finds the leftmost-first match starting at or after <paramref name="start"/> (a UTF-16 index on a code point
    /// boundary). Offsets are UTF-16 indices into <paramref name="text"/>. The text must be well-formed UTF-16
    /// (lone surrogates are treated as U+FFFD).
    /// </summary>
    public bool Find(ReadOnlySpan<char> text, int start, out int matchStart, out int matchEnd) =>
        Find(text, start, RentScratch(), out matchStart, out matchEnd);

    /// <summary>All non-overlapping matches, as (start, end) UTF-16 offsets, in order; empty matches are skipped.</summary>
    public List<(int Start, int End)> FindAll(ReadOnlySpan<char> text)
    {
        var result = new List<(int Start, int End)>();
        Scratch scratch = RentScratch();
        int pos = 0;
        while (pos <= text.Length && Find(text, pos, scratch, out int s, out int e))
        {
            if (e > s)
            {
                result.Add((s, e));
                pos = e;
            }
            else
            {
                // An empty match: Oniguruma's iterator moves on by one character.
                if (s >= text.Length)
                {
                    break;
                }

                pos = s + RuneLengthAt(text, s);
            }
        }

        return result;
    }

    /// <summary>Instructions in the compiled program (the m of the O(text × m) bound).</summary>
    internal int ProgramLength => _program.Length;

    /// <summary>
    /// VM threads added by searches on the calling thread so far: the work done. A Pike VM adds each instruction at most
    /// once per input position, so a search of n code points adds at most (n + 1) × <see cref="ProgramLength"/>.
    /// </summary>
    internal static long ThreadStepsOnThisThread => t_scratch is { } s ? s.Current.Added + s.Next.Added : 0;

    /// <summary>Working memory of the calling thread, reused across calls (any regex with a program no larger fits).</summary>
    [ThreadStatic]
    private static Scratch? t_scratch;

    private Scratch RentScratch()
    {
        Scratch? scratch = t_scratch;
        if (scratch is null || scratch.ProgramLength < _program.Length)
        {
            scratch = new Scratch(Math.Max(_program.Length, 256));
            t_scratch = scratch;
        }

        return scratch;
    }

    private bool Find(ReadOnlySpan<char> text, int start, Scratch scratch, out int matchStart, out int matchEnd)
    {
        matchStart = -1;
        matchEnd = -1;
        bool matched = false;
        ThreadList clist = scratch.Current;
        ThreadList nlist = scratch.Next;
        clist.Clear();
        nlist.Clear();

        int pos = start;
        int prev = start > 0 ? PreviousCodePoint(text, start) : -1;
        int cp = CodePointAt(text, pos, out int len);

        while (true)
        {
            if (!matched)
            {
                AddThread(clist, 0, pos, prev, cp, text.Length, pos, scratch);
            }

            if (clist.Count == 0)
            {
                if (matched || pos >= text.Length)
                {
                    break;
                }

                // No live thread and no match yet: move on to the next start position.
                clist.Clear();
                prev = cp;
                pos += len;
                cp = CodePointAt(text, pos, out len);
                continue;
            }

            int nextPos = pos + len;
            int nextCp = cp < 0 ? -1 : CodePointAt(text, nextPos, out _);
            uint catBit = 0;
            bool white = false;
            if (cp >= 0)
            {
                catBit = 1u << (int)CharUnicodeInfo.GetUnicodeCategory(cp);
                white = Rune.IsWhiteSpace(new Rune(cp));
            }

            for (int i = 0; i < clist.Count; i++)
            {
                int pc = clist.Pcs[i];
                Inst inst = _program[pc];
                if (inst.Op == Op.Match)
                {
                    matched = true;
                    matchStart = clist.Starts[i];
                    matchEnd = pos;
                    break; // lower-priority threads are cut
                }

                if (cp >= 0 && _sets[inst.A].Matches(cp, catBit, white))
                {
                    AddThread(nlist, pc + 1, clist.Starts[i], cp, nextCp, text.Length, nextPos, scratch);
                }
            }

            if (cp < 0)
            {
                break;
            }

            (clist, nlist) = (nlist, clist);
            nlist.Clear();
            prev = cp;
            pos = nextPos;
            cp = nextCp;
            len = cp < 0 ? 0 : (cp > 0xFFFF ? 2 : 1);
            if (clist.Count == 0 && matched)
            {
                break;
            }
        }

        return matched;
    }

    /// <summary>Adds the epsilon closure of <paramref name="pc0"/> to <paramref name="list"/>, in priority order.</summary>
    private void AddThread(ThreadList list, int pc0, int threadStart, int prevCp, int nextCp, int textLength, int pos, Scratch scratch)
    {
        int[] stack = scratch.Stack;
        int sp = 0;
        stack[sp++] = pc0;
        while (sp > 0)
        {
            int pc = stack[--sp];
            if (!list.TryMark(pc))
            {
                continue;
            }

            Inst inst = _program[pc];
            switch (inst.Op)
            {
                case Op.Jmp:
                    stack[sp++] = inst.A;
                    break;
                case Op.Split:
                    stack[sp++] = inst.B; // lower priority, explored after A
                    stack[sp++] = inst.A;
                    break;
                case Op.Assert:
                    if (CheckAssert((AssertKind)inst.A, inst.B, prevCp, nextCp, pos, textLength))
                    {
                        stack[sp++] = pc + 1;
                    }

                    break;
                default:
                    list.Add(pc, threadStart);
                    break;
            }
        }
    }

    private bool CheckAssert(AssertKind kind, int setIndex, int prevCp, int nextCp, int pos, int textLength)
    {
        switch (kind)
        {
            case AssertKind.BeginText:
                return pos == 0;
            case AssertKind.EndText:
                return pos == textLength;
            case AssertKind.EndTextOrFinalNewline:
                return pos == textLength || (nextCp == '\n' && pos + 1 == textLength);
            case AssertKind.BeginLine:
                return pos == 0 || prevCp == '\n';
            case AssertKind.EndLine:
                return pos == textLength || nextCp == '\n';
            case AssertKind.LookaheadSet:
            case AssertKind.NegativeLookaheadSet:
                bool inSet = nextCp >= 0 && _sets[setIndex].Matches(
                    nextCp, 1u << (int)CharUnicodeInfo.GetUnicodeCategory(nextCp), Rune.IsWhiteSpace(new Rune(nextCp)));
                return kind == AssertKind.LookaheadSet ? inSet : !inSet;
            default:
                return false;
        }
    }

    private static int CodePointAt(ReadOnlySpan<char> text, int pos, out int length)
    {
        if (pos >= text.Length)
        {
            length = 0;
            return -1;
        }

        char c = text[pos];
        if (char.IsHighSurrogate(c) && pos + 1 < text.Length && char.IsLowSurrogate(text[pos + 1]))
        {
            length = 2;
            return char.ConvertToUtf32(c, text[pos + 1]);
        }

        length = 1;
        return char.IsSurrogate(c) ? 0xFFFD : c;
    }

    private static int PreviousCodePoint(ReadOnlySpan<char> text, int pos)
    {
        char c = text[pos - 1];
        if (char.IsLowSurrogate(c) && pos >= 2 && char.IsHighSurrogate(text[pos - 2]))
        {
            return char.ConvertToUtf32(text[pos - 2], c);
        }

        return char.IsSurrogate(c) ? 0xFFFD : c;
    }

    private static int RuneLengthAt(ReadOnlySpan<char> text, int pos)
    {
        CodePointAt(text, pos, out int len);
        return Math.Max(len, 1);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Program

    private enum Op : byte
    {
        Char,
        Match,
        Jmp,
        Split,
        Assert,
    }

    private enum AssertKind
    {
        BeginText,
        EndText,
        EndTextOrFinalNewline,
        BeginLine,
        EndLine,
        LookaheadSet,
        NegativeLookaheadSet,
    }

    private readonly record struct Inst(Op Op, int A, int B);

    private sealed class ThreadList
    {
        private readonly int[] _marks;
        private int _generation = 1;

        public ThreadList(int programLength)
        {
            _marks = new int[programLength];
            Pcs = new int[programLength];
            Starts = new int[programLength];
        }

        public int[] Pcs { get; }

        public int[] Starts { get; }

        public int Count { get; private set; }

        public bool TryMark(int pc)
        {
            if (_marks[pc] == _generation)
            {
                return false;
            }

            _marks[pc] = _generation;
            return true;
        }

        public void Add(int pc, int start)
        {
            Pcs[Count] = pc;
            Starts[Count] = start;
            Count++;
            Added++;
        }

        /// <summary>Threads added since the list was made: the VM's work.</summary>
        public long Added { get; private set; }

        public void Clear()
        {
            Count = 0;
            _generation++;
            if (_generation == int.MaxValue)
            {
                Array.Clear(_marks);
                _generation = 1;
            }
        }
    }

    /// <summary>Per-thread search working memory, so that a compiled regex is safe to share between threads.</summary>
    private sealed class Scratch(int programLength)
    {
        public int ProgramLength { get; } = programLength;

        public ThreadList Current { get; } = new(programLength);

        public ThreadList Next { get; } = new(programLength);

        // Each instruction is pushed at most twice before it is marked (Split pushes two), so 2n + 1 slots suffice.
        public int[] Stack { get; } = new int[(2 * programLength) + 1];
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Character sets

    /// <summary>A set of code points: a union of items, optionally negated, optionally case-insensitive.</summary>
    private sealed class CharSet
    {
        private readonly List<(int Lo, int Hi)> _ranges = [];
        private readonly List<uint> _negatedCategoryMasks = [];
        private uint _categoryMask;
        private bool _white;
        private bool _notWhite;

        public bool Negated { get; set; }

        public bool IgnoreCase { get; set; }

        public static CharSet Single(int cp, bool ignoreCase)
        {
            var set = new CharSet { IgnoreCase = ignoreCase };
            set.AddRange(cp, cp);
            return set;
        }

        public void AddRange(int lo, int hi) => _ranges.Add((lo, hi));

        public void AddCategories(uint mask, bool negated)
        {
            if (negated)
            {
                _negatedCategoryMasks.Add(mask);
            }
            else
            {
                _categoryMask |= mask;
            }
        }

        public void AddWhite(bool negated)
        {
            if (negated)
            {
                _notWhite = true;
            }
            else
            {
                _white = true;
            }
        }

        public bool Matches(int cp, uint catBit, bool white)
        {
            bool m = MatchesCore(cp, catBit, white);
            if (!m && IgnoreCase)
            {
                m = MatchesFolded(cp);
            }

            return m != Negated;
        }

        private bool MatchesFolded(int cp)
        {
            if (!Rune.IsValid(cp))
            {
                return false;
            }

            var rune = new Rune(cp);
            Rune lower = Rune.ToLowerInvariant(rune);
            Rune upper = Rune.ToUpperInvariant(rune);
            return (lower != rune && MatchesCore(lower.Value, 1u << (int)Rune.GetUnicodeCategory(lower), Rune.IsWhiteSpace(lower)))
                || (upper != rune && MatchesCore(upper.Value, 1u << (int)Rune.GetUnicodeCategory(upper), Rune.IsWhiteSpace(upper)));
        }

        private bool MatchesCore(int cp, uint catBit, bool white)
        {
            if ((_categoryMask & catBit) != 0 || (_white && white) || (_notWhite && !white))
            {
                return true;
            }

            foreach (uint mask in _negatedCategoryMasks)
            {
                if ((mask & catBit) == 0)
                {
                    return true;
                }
            }

            foreach ((int lo, int hi) in _ranges)
            {
                if (cp >= lo && cp <= hi)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private static uint Cat(params UnicodeCategory[] categories)
    {
        uint mask = 0;
        foreach (UnicodeCategory c in categories)
        {
            mask |= 1u << (int)c;
        }

        return mask;
    }

    private static readonly uint s_letter = Cat(
        UnicodeCategory.UppercaseLetter, UnicodeCategory.LowercaseLetter, UnicodeCategory.TitlecaseLetter,
        UnicodeCategory.ModifierLetter, UnicodeCategory.OtherLetter);

    private static readonly uint s_mark = Cat(
        UnicodeCategory.NonSpacingMark, UnicodeCategory.SpacingCombiningMark, UnicodeCategory.EnclosingMark);

    private static readonly uint s_number = Cat(
        UnicodeCategory.DecimalDigitNumber, UnicodeCategory.LetterNumber, UnicodeCategory.OtherNumber);

    private static readonly uint s_punctuation = Cat(
        UnicodeCategory.ConnectorPunctuation, UnicodeCategory.DashPunctuation, UnicodeCategory.OpenPunctuation,
        UnicodeCategory.ClosePunctuation, UnicodeCategory.InitialQuotePunctuation, UnicodeCategory.FinalQuotePunctuation,
        UnicodeCategory.OtherPunctuation);

    private static readonly uint s_symbol = Cat(
        UnicodeCategory.MathSymbol, UnicodeCategory.CurrencySymbol, UnicodeCategory.ModifierSymbol, UnicodeCategory.OtherSymbol);

    private static readonly uint s_separator = Cat(
        UnicodeCategory.SpaceSeparator, UnicodeCategory.LineSeparator, UnicodeCategory.ParagraphSeparator);

    private static readonly uint s_other = Cat(
        UnicodeCategory.Control, UnicodeCategory.Format, UnicodeCategory.Surrogate, UnicodeCategory.PrivateUse,
        UnicodeCategory.OtherNotAssigned);

    private static readonly uint s_word = s_letter | s_mark | Cat(UnicodeCategory.DecimalDigitNumber, UnicodeCategory.ConnectorPunctuation);

    private static readonly uint s_digit = Cat(UnicodeCategory.DecimalDigitNumber);

    /// <summary>General category masks by property name (Oniguruma accepts short and long names, case-insensitively).</summary>
    private static readonly Dictionary<string, uint> s_properties = new(StringComparer.OrdinalIgnoreCase)
    {
        ["L"] = s_letter,
        ["Letter"] = s_letter,
        ["LC"] = Cat(UnicodeCategory.UppercaseLetter, UnicodeCategory.LowercaseLetter, UnicodeCategory.TitlecaseLetter),
        ["Cased_Letter"] = Cat(UnicodeCategory.UppercaseLetter, UnicodeCategory.LowercaseLetter, UnicodeCategory.TitlecaseLetter),
        ["Lu"] = Cat(UnicodeCategory.UppercaseLetter),
        ["Uppercase_Letter"] = Cat(UnicodeCategory.UppercaseLetter),
        ["Ll"] = Cat(UnicodeCategory.LowercaseLetter),
        ["Lowercase_Letter"] = Cat(UnicodeCategory.LowercaseLetter),
        ["Lt"] = Cat(UnicodeCategory.TitlecaseLetter),
        ["Titlecase_Letter"] = Cat(UnicodeCategory.TitlecaseLetter),
        ["Lm"] = Cat(UnicodeCategory.ModifierLetter),
        ["Modifier_Letter"] = Cat(UnicodeCategory.ModifierLetter),
        ["Lo"] = Cat(UnicodeCategory.OtherLetter),
        ["Other_Letter"] = Cat(UnicodeCategory.OtherLetter),
        ["M"] = s_mark,
        ["Mark"] = s_mark,
        ["Combining_Mark"] = s_mark,
        ["Mn"] = Cat(UnicodeCategory.NonSpacingMark),
        ["Nonspacing_Mark"] = Cat(UnicodeCategory.NonSpacingMark),
        ["Mc"] = Cat(UnicodeCategory.SpacingCombiningMark),
        ["Spacing_Mark"] = Cat(UnicodeCategory.SpacingCombiningMark),
        ["Me"] = Cat(UnicodeCategory.EnclosingMark),
        ["Enclosing_Mark"] = Cat(UnicodeCategory.EnclosingMark),
        ["N"] = s_number,
        ["Number"] = s_number,
        ["Nd"] = s_digit,
        ["Decimal_Number"] = s_digit,
        ["Nl"] = Cat(UnicodeCategory.LetterNumber),
        ["Letter_Number"] = Cat(UnicodeCategory.LetterNumber),
        ["No"] = Cat(UnicodeCategory.OtherNumber),
        ["Other_Number"] = Cat(UnicodeCategory.OtherNumber),
        ["P"] = s_punctuation,
        ["Punctuation"] = s_punctuation,
        ["Pc"] = Cat(UnicodeCategory.ConnectorPunctuation),
        ["Connector_Punctuation"] = Cat(UnicodeCategory.ConnectorPunctuation),
        ["Pd"] = Cat(UnicodeCategory.DashPunctuation),
        ["Dash_Punctuation"] = Cat(UnicodeCategory.DashPunctuation),
        ["Ps"] = Cat(UnicodeCategory.OpenPunctuation),
        ["Open_Punctuation"] = Cat(UnicodeCategory.OpenPunctuation),
        ["Pe"] = Cat(UnicodeCategory.ClosePunctuation),
        ["Close_Punctuation"] = Cat(UnicodeCategory.ClosePunctuation),
        ["Pi"] = Cat(UnicodeCategory.InitialQuotePunctuation),
        ["Initial_Punctuation"] = Cat(UnicodeCategory.InitialQuotePunctuation),
        ["Pf"] = Cat(UnicodeCategory.FinalQuotePunctuation),
        ["Final_Punctuation"] = Cat(UnicodeCategory.FinalQuotePunctuation),
        ["Po"] = Cat(UnicodeCategory.OtherPunctuation),
        ["Other_Punctuation"] = Cat(UnicodeCategory.OtherPunctuation),
        ["S"] = s_symbol,
        ["Symbol"] = s_symbol,
        ["Sm"] = Cat(UnicodeCategory.MathSymbol),
        ["Math_Symbol"] = Cat(UnicodeCategory.MathSymbol),
        ["Sc"] = Cat(UnicodeCategory.CurrencySymbol),
        ["Currency_Symbol"] = Cat(UnicodeCategory.CurrencySymbol),
        ["Sk"] = Cat(UnicodeCategory.ModifierSymbol),
        ["Modifier_Symbol"] = Cat(UnicodeCategory.ModifierSymbol),
        ["So"] = Cat(UnicodeCategory.OtherSymbol),
        ["Other_Symbol"] = Cat(UnicodeCategory.OtherSymbol),
        ["Z"] = s_separator,
        ["Separator"] = s_separator,
        ["Zs"] = Cat(UnicodeCategory.SpaceSeparator),
        ["Space_Separator"] = Cat(UnicodeCategory.SpaceSeparator),
        ["Zl"] = Cat(UnicodeCategory.LineSeparator),
        ["Line_Separator"] = Cat(UnicodeCategory.LineSeparator),
        ["Zp"] = Cat(UnicodeCategory.ParagraphSeparator),
        ["Paragraph_Separator"] = Cat(UnicodeCategory.ParagraphSeparator),
        ["C"] = s_other,
        ["Other"] = s_other,
        ["Cc"] = Cat(UnicodeCategory.Control),
        ["Control"] = Cat(UnicodeCategory.Control),
        ["Cf"] = Cat(UnicodeCategory.Format),
        ["Format"] = Cat(UnicodeCategory.Format),
        ["Cs"] = Cat(UnicodeCategory.Surrogate),
        ["Surrogate"] = Cat(UnicodeCategory.Surrogate),
        ["Co"] = Cat(UnicodeCategory.PrivateUse),
        ["Private_Use"] = Cat(UnicodeCategory.PrivateUse),
        ["Cn"] = Cat(UnicodeCategory.OtherNotAssigned),
        ["Unassigned"] = Cat(UnicodeCategory.OtherNotAssigned),
        ["Any"] = uint.MaxValue,
    };

    // ---------------------------------------------------------------------------------------------------------------
    // Syntax tree

    private abstract class Node;

    private sealed class SetNode(CharSet set) : Node
    {
        public CharSet Set { get; } = set;
    }

    private sealed class ConcatNode(List<Node> items) : Node
    {
        public List<Node> Items { get; } = items;
    }

    private sealed class AltNode(List<Node> alternatives) : Node
    {
        public List<Node> Alternatives { get; } = alternatives;
    }

    private sealed class RepeatNode(Node body, int min, int max, bool greedy) : Node
    {
        public Node Body { get; } = body;

        public int Min { get; } = min;

        /// <summary>-1: unbounded.</summary>
        public int Max { get; } = max;

        public bool Greedy { get; } = greedy;
    }

    private sealed class AssertNode(AssertKind kind, CharSet? set) : Node
    {
        public AssertKind Kind { get; } = kind;

        public CharSet? Set { get; } = set;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Parser

    private sealed class Parser(string pattern)
    {
        private readonly string _p = pattern;
        private int _i;
        private bool _ignoreCase;

        public Node ParseAll()
        {
            Node node = ParseAlternation();
            if (_i < _p.Length)
            {
                throw Malformed(_p[_i] == ')' ? "unbalanced ')'" : $"unexpected '{_p[_i]}'");
            }

            return node;
        }

        private ArgumentException Malformed(string what) =>
            new($"malformed regex pattern at offset {_i}: {what} (pattern: {_p})");

        private NotSupportedException Unsupported(string what) =>
            new($"unsupported regex construct at offset {_i}: {what} (pattern: {_p})");

        private bool More => _i < _p.Length;

        private char Peek => _p[_i];

        private int NextRune()
        {
            int cp = CodePointAt(_p, _i, out int len);
            _i += len;
            return cp;
        }

        private Node ParseAlternation()
        {
            bool savedIgnoreCase = _ignoreCase;
            var alternatives = new List<Node> { ParseConcatenation() };
            while (More && Peek == '|')
            {
                _i++;
                alternatives.Add(ParseConcatenation());
            }

            _ignoreCase = savedIgnoreCase;
            return alternatives.Count == 1 ? alternatives[0] : new AltNode(alternatives);
        }

        private Node ParseConcatenation()
        {
            var items = new List<Node>();
            while (More && Peek != '|' && Peek != ')')
            {
                Node? atom = ParseAtom();
                if (atom is null)
                {
                    continue; // an inline flag group such as (?i)
                }

                items.Add(ParseQuantifiers(atom));
            }

            return items.Count == 1 ? items[0] : new ConcatNode(items);
        }

        private Node ParseQuantifiers(Node atom)
        {
            while (More)
            {
                int min;
                int max;
                char c = Peek;
                if (c == '*')
                {
                    (min, max) = (0, -1);
                    _i++;
                }
                else if (c == '+')
                {
                    (min, max) = (1, -1);
                    _i++;
                }
                else if (c == '?')
                {
                    (min, max) = (0, 1);
                    _i++;
                }
                else if (c == '{' && TryParseInterval(out min, out max))
                {
                    // consumed
                }
                else
                {
                    break;
                }

                if (atom is AssertNode)
                {
                    throw Unsupported("quantified assertion");
                }

                bool greedy = true;
                if (More && Peek == '?')
                {
                    greedy = false;
                    _i++;
                }
                else if (More && Peek == '+')
                {
                    throw Unsupported("possessive quantifier");
                }

                atom = new RepeatNode(atom, min, max, greedy);
            }

            return atom;
        }

        private bool TryParseInterval(out int min, out int max)
        {
            // {n}, {n,}, {n,m}, {,m}; anything else is a literal '{' (as in Oniguruma).
            min = 0;
            max = -1;
            int j = _i + 1;
            int a = ReadNumber(ref j, out bool hasA);
            bool comma = false;
            int b = 0;
            bool hasB = false;
            if (j < _p.Length && _p[j] == ',')
            {
                comma = true;
                j++;
                b = ReadNumber(ref j, out hasB);
            }

            if (j >= _p.Length || _p[j] != '}' || (!hasA && !hasB))
            {
                return false;
            }

            min = hasA ? a : 0;
            max = comma ? (hasB ? b : -1) : min;
            if (max >= 0 && max < min)
            {
                throw Malformed("interval {n,m} with m < n");
            }

            if (min > 1000 || max > 1000)
            {
                throw Unsupported("repetition count above 1000");
            }

            _i = j + 1;
            return true;
        }

        private int ReadNumber(ref int j, out bool any)
        {
            int value = 0;
            any = false;
            while (j < _p.Length && _p[j] >= '0' && _p[j] <= '9')
            {
                value = checked((value * 10) + (_p[j] - '0'));
                if (value > 100_000)
                {
                    throw Unsupported("repetition count above 1000");
                }

                any = true;
                j++;
            }

            return value;
        }

        private Node? ParseAtom()
        {
            char c = Peek;
            switch (c)
            {
                case '(':
                    return ParseGroup();
                case '[':
                    _i++;
                    return new SetNode(ParseClass());
                case '.':
                {
                    _i++;
                    var set = new CharSet { Negated = true };
                    set.AddRange('\n', '\n');
                    return new SetNode(set);
                }

                case '^':
                    _i++;
                    return new AssertNode(AssertKind.BeginLine, null);
                case '$':
                    _i++;
                    return new AssertNode(AssertKind.EndLine, null);
                case '\\':
                    return ParseEscapeOutsideClass();
                case '*':
                case '+':
                case '?':
                    throw Malformed("quantifier without operand");
                default:
                    return new SetNode(CharSet.Single(NextRune(), _ignoreCase));
            }
        }

        private Node? ParseGroup()
        {
            _i++; // '('
            if (More && Peek == '?')
            {
                _i++;
                if (!More)
                {
                    throw Malformed("unterminated group");
                }

                char kind = Peek;
                if (kind == ':')
                {
                    _i++;
                    return ParseGroupBody(_ignoreCase);
                }

                if (kind is '=' or '!')
                {
                    _i++;
                    int at = _i;
                    Node body = ParseAlternation();
                    Expect(')');
                    if (body is not SetNode setNode)
                    {
                        _i = at;
                        throw Unsupported("lookahead whose body is not a single character class");
                    }

                    return new AssertNode(kind == '=' ? AssertKind.LookaheadSet : AssertKind.NegativeLookaheadSet, setNode.Set);
                }

                if (kind == '<' && _i + 1 < _p.Length && _p[_i + 1] is '=' or '!')
                {
                    throw Unsupported("lookbehind");
                }

                if (kind is '<' or '\'' or 'P')
                {
                    // Named group: (?<name>...), (?'name'...), (?P<name>...).
                    if (kind == 'P')
                    {
                        _i++;
                    }

                    char close = Peek == '\'' ? '\'' : '>';
                    int end = _p.IndexOf(close, _i + 1);
                    if (end < 0)
                    {
                        throw Malformed("unterminated group name");
                    }

                    _i = end + 1;
                    return ParseGroupBody(_ignoreCase);
                }

                if (kind is '>' or '~' or '#' or '(')
                {
                    throw Unsupported($"group kind '(?{kind}'");
                }

                return ParseFlagGroup();
            }

            return ParseGroupBody(_ignoreCase);
        }

        private Node? ParseFlagGroup()
        {
            bool on = true;
            bool ignoreCase = _ignoreCase;
            while (More && Peek != ':' && Peek != ')')
            {
                char f = Peek;
                _i++;
                switch (f)
                {
                    case '-':
                        on = false;
                        break;
                    case 'i':
                        ignoreCase = on;
                        break;
                    default:
                        throw Unsupported($"inline flag '{f}'");
                }
            }

            if (!More)
            {
                throw Malformed("unterminated group");
            }

            if (Peek == ')')
            {
                // (?i): applies to the rest of the enclosing group.
                _i++;
                _ignoreCase = ignoreCase;
                return null;
            }

            _i++; // ':'
            return ParseGroupBody(ignoreCase);
        }

        private Node ParseGroupBody(bool ignoreCase)
        {
            bool saved = _ignoreCase;
            _ignoreCase = ignoreCase;
            Node body = ParseAlternation();
            Expect(')');
            _ignoreCase = saved;
            return body;
        }

        private void Expect(char c)
        {
            if (!More || Peek != c)
            {
                throw Malformed($"expected '{c}'");
            }

            _i++;
        }

        private Node ParseEscapeOutsideClass()
        {
            _i++; // '\'
            if (!More)
            {
                throw Malformed("trailing backslash");
            }

            char c = Peek;
            switch (c)
            {
                case 'A':
                    _i++;
                    return new AssertNode(AssertKind.BeginText, null);
                case 'z':
                    _i++;
                    return new AssertNode(AssertKind.EndText, null);
                case 'Z':
                    _i++;
                    return new AssertNode(AssertKind.EndTextOrFinalNewline, null);
                case 'b':
                case 'B':
                case 'G':
                case 'K':
                case 'R':
                case 'X':
                case 'k':
                case 'g':
                    throw Unsupported($"\\{c}");
                default:
                    if (c is >= '1' and <= '9')
                    {
                        throw Unsupported("back-reference");
                    }

                    var set = new CharSet { IgnoreCase = _ignoreCase };
                    ParseEscapeInto(set, inClass: false);
                    return new SetNode(set);
            }
        }

        /// <summary>Parses the escape after a backslash (at <see cref="_i"/>) into <paramref name="set"/>; returns the code point for a single-character escape, else -1.</summary>
        private int ParseEscapeInto(CharSet set, bool inClass)
        {
            char c = Peek;
            _i++;
            switch (c)
            {
                case 's':
                    set.AddWhite(negated: false);
                    return -1;
                case 'S':
                    set.AddWhite(negated: true);
                    return -1;
                case 'd':
                    set.AddCategories(s_digit, negated: false);
                    return -1;
                case 'D':
                    set.AddCategories(s_digit, negated: true);
                    return -1;
                case 'w':
                    set.AddCategories(s_word, negated: false);
                    return -1;
                case 'W':
                    set.AddCategories(s_word, negated: true);
                    return -1;
                case 'p':
                case 'P':
                {
                    (uint mask, bool negated) = ParseProperty();
                    set.AddCategories(mask, negated ^ (c == 'P'));
                    return -1;
                }

                case 't':
                    return AddSingle(set, '\t');
                case 'n':
                    return AddSingle(set, '\n');
                case 'r':
                    return AddSingle(set, '\r');
                case 'f':
                    return AddSingle(set, '\f');
                case 'v':
                    return AddSingle(set, '\v');
                case 'a':
                    return AddSingle(set, '\a');
                case 'e':
                    return AddSingle(set, 0x1B);
                case 'b' when inClass:
                    return AddSingle(set, '\b');
                case '0':
                    return AddSingle(set, ReadOctal());
                case 'x':
                    return AddSingle(set, ReadHexEscape());
                case 'u':
                    return AddSingle(set, ReadHexDigits(4, 4));
                default:
                    if (char.IsAsciiLetterOrDigit(c))
                    {
                        _i--;
                        throw Unsupported($"escape \\{c}");
                    }

                    // An escaped literal: punctuation, or any non-ASCII character.
                    _i--;
                    return AddSingle(set, NextRune());
            }
        }

        private static int AddSingle(CharSet set, int cp)
        {
            set.AddRange(cp, cp);
            return cp;
        }

        private int ReadOctal()
        {
            int value = 0;
            for (int k = 0; k < 2 && More && Peek is >= '0' and <= '7'; k++)
            {
                value = (value * 8) + (Peek - '0');
                _i++;
            }

            return value;
        }

        private int ReadHexEscape()
        {
            if (More && Peek == '{')
            {
                _i++;
                int value = ReadHexDigits(1, 8);
                Expect('}');
                if (value > 0x10FFFF)
                {
                    throw Malformed("code point above U+10FFFF");
                }

                return value;
            }

            return ReadHexDigits(1, 2);
        }

        private int ReadHexDigits(int min, int max)
        {
            int value = 0;
            int n = 0;
            while (n < max && More && char.IsAsciiHexDigit(Peek))
            {
                value = (value * 16) + Convert.ToInt32(Peek.ToString(), 16);
                _i++;
                n++;
            }

            if (n < min)
            {
                throw Malformed("bad hexadecimal escape");
            }

            return value;
        }

        private (uint Mask, bool Negated) ParseProperty()
        {
            string name;
            if (More && Peek == '{')
            {
                int end = _p.IndexOf('}', _i);
                if (end < 0)
                {
                    throw Malformed("unterminated \\p{");
                }

                name = _p[(_i + 1)..end];
                _i = end + 1;
            }
            else if (More)
            {
                name = _p[_i].ToString();
                _i++;
            }
            else
            {
                throw Malformed("\\p without a property");
            }

            bool negated = false;
            if (name.StartsWith('^'))
            {
                negated = true;
                name = name[1..];
            }

            string key = name.Replace(" ", "_", StringComparison.Ordinal);
            if (!s_properties.TryGetValue(key, out uint mask))
            {
                throw Unsupported($"Unicode property '{name}' (only general categories are supported)");
            }

            return (mask, negated);
        }

        private CharSet ParseClass()
        {
            var set = new CharSet { IgnoreCase = _ignoreCase };
            if (More && Peek == '^')
            {
                set.Negated = true;
                _i++;
            }

            bool first = true;
            while (true)
            {
                if (!More)
                {
                    throw Malformed("unterminated character class");
                }

                char c = Peek;
                if (c == ']' && !first)
                {
                    _i++;
                    return set;
                }

                if (c == '[')
                {
                    throw Unsupported("nested character class or POSIX bracket");
                }

                if (c == '&' && _i + 1 < _p.Length && _p[_i + 1] == '&')
                {
                    throw Unsupported("character class intersection");
                }

                first = false;
                int lo = ParseClassAtom(set);
                if (lo < 0)
                {
                    continue;
                }

                // A range lo-hi (a '-' before ']' is literal).
                if (More && Peek == '-' && _i + 1 < _p.Length && _p[_i + 1] != ']')
                {
                    _i++;
                    var scratch = new CharSet();
                    int hi = ParseClassAtom(scratch);
                    if (hi < 0)
                    {
                        throw Malformed("range with a class escape as its end");
                    }

                    if (hi < lo)
                    {
                        throw Malformed("range out of order");
                    }

                    set.AddRange(lo, hi);
                }
                else
                {
                    set.AddRange(lo, lo);
                }
            }
        }

        /// <summary>One class item: returns its code point when it is a single character (not yet added), else adds it and returns -1.</summary>
        private int ParseClassAtom(CharSet set)
        {
            if (Peek == '\\')
            {
                int escapeStart = _i;
                _i++;
                if (!More)
                {
                    throw Malformed("trailing backslash");
                }

                int cp = ParseEscapeInto(new CharSet(), inClass: true);
                if (cp >= 0)
                {
                    return cp;
                }

                // A class escape (\s, \p{..}, ...): parse it again, into the real set.
                _i = escapeStart + 1;
                ParseEscapeInto(set, inClass: true);
                return -1;
            }

            return NextRune();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Compiler

    private sealed class Compiler(string pattern)
    {
        public List<Inst> Program { get; } = [];

        public List<CharSet> Sets { get; } = [];

        public int Add(Inst inst)
        {
            if (Program.Count >= MaxProgramLength)
            {
                throw new NotSupportedException($"regex pattern too large once compiled (over {MaxProgramLength} instructions): {pattern}");
            }

            Program.Add(inst);
            return Program.Count - 1;
        }

        private void Patch(int at, Inst inst) => Program[at] = inst;

        public void Emit(Node node)
        {
            switch (node)
            {
                case SetNode s:
                    Sets.Add(s.Set);
                    Add(new Inst(Op.Char, Sets.Count - 1, 0));
                    break;
                case ConcatNode c:
                    foreach (Node item in c.Items)
                    {
                        Emit(item);
                    }

                    break;
                case AltNode a:
                    EmitAlternation(a.Alternatives, 0);
                    break;
                case RepeatNode r:
                    EmitRepeat(r);
                    break;
                case AssertNode a:
                    int setIndex = 0;
                    if (a.Set is not null)
                    {
                        Sets.Add(a.Set);
                        setIndex = Sets.Count - 1;
                    }

                    Add(new Inst(Op.Assert, (int)a.Kind, setIndex));
                    break;
                default:
                    throw new InvalidOperationException("unknown regex node");
            }
        }

        private void EmitAlternation(List<Node> alternatives, int index)
        {
            if (index == alternatives.Count - 1)
            {
                Emit(alternatives[index]);
                return;
            }

            int split = Add(default);
            int first = Program.Count;
            Emit(alternatives[index]);
            int jmp = Add(default);
            int second = Program.Count;
            EmitAlternation(alternatives, index + 1);
            Patch(split, new Inst(Op.Split, first, second));
            Patch(jmp, new Inst(Op.Jmp, Program.Count, 0));
        }

        private void EmitRepeat(RepeatNode r)
        {
            for (int k = 0; k < r.Min; k++)
            {
                Emit(r.Body);
            }

            if (r.Max < 0)
            {
                // L: split body, out; body; jmp L
                int split = Add(default);
                Emit(r.Body);
                Add(new Inst(Op.Jmp, split, 0));
                int exit = Program.Count;
                Patch(split, r.Greedy ? new Inst(Op.Split, split + 1, exit) : new Inst(Op.Split, exit, split + 1));
                return;
            }

            // (max - min) nested optional copies; every skip jumps to the common exit.
            var splits = new List<int>();
            for (int k = r.Min; k < r.Max; k++)
            {
                splits.Add(Add(default));
                Emit(r.Body);
            }

            int end = Program.Count;
            foreach (int split in splits)
            {
                Patch(split, r.Greedy ? new Inst(Op.Split, split + 1, end) : new Inst(Op.Split, end, split + 1));
            }
        }
    }
}
