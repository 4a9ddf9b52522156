namespace R1Orleans.Text.Chat;

/// <summary>
/// Recursive-descent parser following Jinja's grammar and precedence: conditional, <c>or</c>, <c>and</c>, <c>not</c>,
/// comparisons, <c>+ -</c>, <c>~</c>, <c>* / // %</c>, <c>**</c>, unary, then primaries with attribute, subscript,
/// call, filter (<c>|</c>) and test (<c>is</c>) postfixes. Filters and tests are resolved here, so an unknown one is a
/// parse error with its position. Nesting is capped by <see cref="JinjaOptions.MaxParseDepth"/>.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly HashSet<string> s_compareOperators = ["==", "!=", "<", "<=", ">", ">="];

    private readonly List<JinjaToken> _tokens;
    private readonly int _maxDepth;
    private int _index;
    private int _depth;
    private int _loopDepth;

    private JinjaParser(List<JinjaToken> tokens, int maxDepth)
    {
        _tokens = tokens;
        _maxDepth = maxDepth;
    }

    public static List<JinjaStmt> Parse(List<JinjaToken> tokens, JinjaOptions options)
    {
        var parser = new JinjaParser(tokens, options.MaxParseDepth);
        List<JinjaStmt> body = parser.Subparse(null);
        if (parser.Current.Kind != JinjaTokenKind.Eof)
        {
            throw parser.Fail($"unexpected {parser.Current.Describe()}", parser.Current);
        }

        return body;
    }

    private JinjaToken Current => _tokens[_index];

    private JinjaToken Look => _tokens[Math.Min(_index + 1, _tokens.Count - 1)];

    private JinjaToken Next()
    {
        JinjaToken t = _tokens[_index];
        if (_index < _tokens.Count - 1)
        {
            _index++;
        }

        return t;
    }

    private bool SkipOperator(string op)
    {
        if (Current.IsOperator(op))
        {
            Next();
            return true;
        }

        return false;
    }

    private bool SkipName(string name)
    {
        if (Current.IsName(name))
        {
            Next();
            return true;
        }

        return false;
    }

    private JinjaToken Expect(JinjaTokenKind kind, string? value = null)
    {
        JinjaToken t = Current;
        if (t.Kind != kind || (value is not null && t.Value != value))
        {
            string wanted = value is not null ? $"'{value}'" : new JinjaToken(kind, string.Empty, 0, 0).Describe();
            if (kind == JinjaTokenKind.Name && value is null)
            {
                wanted = "a name";
            }

            throw Fail(t.Kind == JinjaTokenKind.Eof
                ? $"unexpected end of template, expected {wanted}"
                : $"expected {wanted}, got {t.Describe()}", t);
        }

        return Next();
    }

    private TemplateException Fail(string message, JinjaToken at) => new(message, at.Line, at.Column);

    private void Enter()
    {
        if (++_depth > _maxDepth)
        {
            throw Fail($"template nesting exceeds the limit of {_maxDepth} levels", Current);
        }
    }

    private void Leave() => _depth--;

    // ---- statements ----

    /// <summary>Parses nodes until a block tag whose name is in <paramref name="endTags"/> (left unconsumed) or the end.</summary>
    private List<JinjaStmt> Subparse(HashSet<string>? endTags)
    {
        Enter();
        var body = new List<JinjaStmt>();
        while (true)
        {
            JinjaToken t = Current;
            switch (t.Kind)
            {
                case JinjaTokenKind.Eof:
                    if (endTags is not null)
                    {
                        throw Fail($"unexpected end of template, expected one of {string.Join(", ", endTags.Select(x => $"'{x}'"))}", t);
                    }

                    Leave();
                    return body;
                case JinjaTokenKind.Data:
                    Next();
                    body.Add(new OutputStmt(SourcePos.Of(t), t.Value));
                    break;
                case JinjaTokenKind.VariableBegin:
                    Next();
                    JinjaExpr value = ParseTuple(withCondExpr: true, null, explicitParentheses: false);
                    Expect(JinjaTokenKind.VariableEnd);
                    body.Add(new PrintStmt(SourcePos.Of(t), value));
                    break;
                case JinjaTokenKind.BlockBegin:
                    Next();
                    if (endTags is not null && Current.Kind == JinjaTokenKind.Name && endTags.Contains(Current.Value))
                    {
                        Leave();
                        return body;
                    }

                    body.Add(ParseStatement());
                    break;
                default:
                    throw Fail($"unexpected {t.Describe()}", t);
            }
        }
    }

    /// <summary>After an end tag's name: consumes it and the <c>%}</c>.</summary>
    private void EndTag(string name)
    {
        Expect(JinjaTokenKind.Name, name);
        Expect(JinjaTokenKind.BlockEnd);
    }

    private JinjaStmt ParseStatement()
    {
        JinjaToken t = Current;
        if (t.Kind != JinjaTokenKind.Name)
        {
            throw Fail($"tag name expected, got {t.Describe()}", t);
        }

        switch (t.Value)
        {
            case "if":
                return ParseIf();
            case "for":
                return ParseFor();
            case "set":
                return ParseSet();
            case "macro":
                return ParseMacro();
            case "filter":
                return ParseFilterBlock();
            case "with":
                return ParseWith();
            case "generation":
                Next();
                Expect(JinjaTokenKind.BlockEnd);
                List<JinjaStmt> generation = Subparse(["endgeneration"]);
                EndTag("endgeneration");
                return new BlockStmt(SourcePos.Of(t), generation);
            case "break" or "continue":
                Next();
                if (_loopDepth == 0)
                {
                    throw Fail($"'{t.Value}' outside of a for loop", t);
                }

                Expect(JinjaTokenKind.BlockEnd);
                return t.Value == "break" ? new BreakStmt(SourcePos.Of(t)) : new ContinueStmt(SourcePos.Of(t));
            case "call" or "include" or "import" or "from" or "extends" or "block" or "do" or "autoescape":
                throw Fail($"the '{t.Value}' tag is not supported in chat templates", t);
            default:
                throw Fail($"Encountered unknown tag '{t.Value}'", t);
        }
    }

    private IfStmt ParseIf()
    {
        JinjaToken start = Next();
        var branches = new List<KeyValuePair<JinjaExpr, List<JinjaStmt>>>();
        List<JinjaStmt>? otherwise = null;
        while (true)
        {
            JinjaExpr condition = ParseTuple(withCondExpr: false, null, explicitParentheses: false);
            Expect(JinjaTokenKind.BlockEnd);
            List<JinjaStmt> body = Subparse(["elif", "else", "endif"]);
            branches.Add(new(condition, body));
            JinjaToken tag = Next();
            if (tag.Value == "elif")
            {
                continue;
            }

            if (tag.Value == "else")
            {
                Expect(JinjaTokenKind.BlockEnd);
                otherwise = Subparse(["endif"]);
                EndTag("endif");
            }
            else
            {
                Expect(JinjaTokenKind.BlockEnd);
            }

            return new IfStmt(SourcePos.Of(start), branches, otherwise);
        }
    }

    private ForStmt ParseFor()
    {
        JinjaToken start = Next();
        JinjaTarget target = ParseAssignTarget(withNamespace: false, ["in"]);
        Expect(JinjaTokenKind.Name, "in");
        JinjaExpr iterable = ParseTuple(withCondExpr: false, ["recursive"], explicitParentheses: false);
        JinjaExpr? filter = null;
        if (SkipName("if"))
        {
            filter = ParseExpression(withCondExpr: true);
        }

        if (Current.IsName("recursive"))
        {
            throw Fail("recursive for loops are not supported", Current);
        }

        Expect(JinjaTokenKind.BlockEnd);
        _loopDepth++;
        List<JinjaStmt> body = Subparse(["endfor", "else"]);
        _loopDepth--;
        List<JinjaStmt>? otherwise = null;
        if (Next().Value == "else")
        {
            Expect(JinjaTokenKind.BlockEnd);
            otherwise = Subparse(["endfor"]);
            EndTag("endfor");
        }
        else
        {
            Expect(JinjaTokenKind.BlockEnd);
        }

        return new ForStmt(SourcePos.Of(start), target, iterable, filter, body, otherwise);
    }

    private JinjaStmt ParseSet()
    {
        JinjaToken start = Next();
        JinjaTarget target = ParseAssignTarget(withNamespace: true, null);
        if (SkipOperator("="))
        {
            JinjaExpr value = ParseTuple(withCondExpr: true, null, explicitParentheses: false);
            Expect(JinjaTokenKind.BlockEnd);
            return new SetStmt(SourcePos.Of(start), target, value);
        }

        FilterExpr? filter = Current.IsOperator("|") ? ParseFilterChain(null, startInline: false) as FilterExpr : null;
        Expect(JinjaTokenKind.BlockEnd);
        List<JinjaStmt> body = Subparse(["endset"]);
        EndTag("endset");
        return new SetBlockStmt(SourcePos.Of(start), target, filter, body);
    }

    private MacroStmt ParseMacro()
    {
        JinjaToken start = Next();
        string name = Expect(JinjaTokenKind.Name).Value;
        Expect(JinjaTokenKind.Operator, "(");
        var parameters = new List<MacroParam>();
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
                if (Current.IsOperator(")"))
                {
                    break;
                }
            }

            JinjaToken p = Expect(JinjaTokenKind.Name);
            JinjaExpr? fallback = SkipOperator("=") ? ParseExpression(withCondExpr: true) : null;
            if (fallback is null && parameters.Count > 0 && parameters[^1].Default is not null)
            {
                throw Fail("non-default argument follows default argument", p);
            }

            parameters.Add(new MacroParam(p.Value, fallback));
        }

        Expect(JinjaTokenKind.Operator, ")");
        Expect(JinjaTokenKind.BlockEnd);
        int savedLoopDepth = _loopDepth;
        _loopDepth = 0;
        List<JinjaStmt> body = Subparse(["endmacro"]);
        _loopDepth = savedLoopDepth;
        Expect(JinjaTokenKind.Name, "endmacro");
        if (Current.Kind == JinjaTokenKind.Name)
        {
            Next();
        }

        Expect(JinjaTokenKind.BlockEnd);
        return new MacroStmt(SourcePos.Of(start), name, parameters, body);
    }

    private FilterBlockStmt ParseFilterBlock()
    {
        JinjaToken start = Next();
        var filter = (FilterExpr)ParseFilterChain(null, startInline: true)!;
        Expect(JinjaTokenKind.BlockEnd);
        List<JinjaStmt> body = Subparse(["endfilter"]);
        EndTag("endfilter");
        return new FilterBlockStmt(SourcePos.Of(start), filter, body);
    }

    private WithStmt ParseWith()
    {
        JinjaToken start = Next();
        var assignments = new List<KeyValuePair<JinjaTarget, JinjaExpr>>();
        while (Current.Kind != JinjaTokenKind.BlockEnd)
        {
            if (assignments.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
            }

            JinjaTarget target = ParseAssignTarget(withNamespace: false, null);
            Expect(JinjaTokenKind.Operator, "=");
            assignments.Add(new(target, ParseExpression(withCondExpr: true)));
        }

        Expect(JinjaTokenKind.BlockEnd);
        List<JinjaStmt> body = Subparse(["endwith"]);
        EndTag("endwith");
        return new WithStmt(SourcePos.Of(start), assignments, body);
    }

    /// <summary>A name, <c>ns.attr</c> (for <c>set</c>), or a tuple of names (<c>k, v</c> or <c>(k, v)</c>).</summary>
    private JinjaTarget ParseAssignTarget(bool withNamespace, string[]? extraEndNames)
    {
        JinjaToken first = Current;
        if (withNamespace && first.Kind == JinjaTokenKind.Name && Look.IsOperator("."))
        {
            Next();
            Next();
            string attribute = Expect(JinjaTokenKind.Name).Value;
            return new NamespaceTarget(SourcePos.Of(first), first.Value, attribute);
        }

        var items = new List<JinjaTarget>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
            }

            if (Current.IsOperator("=") || Current.Kind == JinjaTokenKind.BlockEnd
                || (extraEndNames is not null && Current.Kind == JinjaTokenKind.Name && extraEndNames.Contains(Current.Value)))
            {
                break;
            }

            if (SkipOperator("("))
            {
                items.Add(ParseAssignTarget(withNamespace: false, null));
                Expect(JinjaTokenKind.Operator, ")");
            }
            else
            {
                JinjaToken name = Expect(JinjaTokenKind.Name);
                if (name.Value is "true" or "false" or "none" or "True" or "False" or "None")
                {
                    throw Fail($"can't assign to '{name.Value}'", name);
                }

                items.Add(new NameTarget(SourcePos.Of(name), name.Value));
            }

            if (Current.IsOperator(","))
            {
                isTuple = true;
            }
            else
            {
                break;
            }
        }

        if (items.Count == 0)
        {
            throw Fail($"expected an assignment target, got {Current.Describe()}", Current);
        }

        return isTuple || items.Count > 1 ? new TupleTarget(SourcePos.Of(first), items) : items[0];
    }

    // ---- expressions ----

    private JinjaExpr ParseTuple(bool withCondExpr, string[]? extraEndNames, bool explicitParentheses)
    {
        JinjaToken start = Current;
        var items = new List<JinjaExpr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
            }

            if (IsTupleEnd(extraEndNames))
            {
                break;
            }

            items.Add(ParseExpression(withCondExpr));
            if (Current.IsOperator(","))
            {
                isTuple = true;
            }
            else
            {
                break;
            }
        }

        if (!isTuple)
        {
            if (items.Count > 0)
            {
                return items[0];
            }

            if (!explicitParentheses)
            {
                throw Fail($"expected an expression, got {Current.Describe()}", Current);
            }
        }

        return new TupleExpr(SourcePos.Of(start), items);
    }

    private bool IsTupleEnd(string[]? extraEndNames)
    {
        JinjaToken t = Current;
        return t.Kind is JinjaTokenKind.VariableEnd or JinjaTokenKind.BlockEnd
            || t.IsOperator(")")
            || (extraEndNames is not null && t.Kind == JinjaTokenKind.Name && extraEndNames.Contains(t.Value));
    }

    private JinjaExpr ParseExpression(bool withCondExpr) => withCondExpr ? ParseCondExpr() : ParseOr();

    private JinjaExpr ParseCondExpr()
    {
        Enter();
        JinjaExpr expr = ParseOr();
        while (Current.IsName("if"))
        {
            JinjaToken at = Next();
            JinjaExpr test = ParseOr();
            JinjaExpr? otherwise = SkipName("else") ? ParseCondExpr() : null;
            expr = new CondExpr(SourcePos.Of(at), test, expr, otherwise);
        }

        Leave();
        return expr;
    }

    private JinjaExpr ParseOr()
    {
        JinjaExpr left = ParseAnd();
        while (Current.IsName("or"))
        {
            JinjaToken at = Next();
            left = new BinaryExpr(SourcePos.Of(at), "or", left, ParseAnd());
        }

        return left;
    }

    private JinjaExpr ParseAnd()
    {
        JinjaExpr left = ParseNot();
        while (Current.IsName("and"))
        {
            JinjaToken at = Next();
            left = new BinaryExpr(SourcePos.Of(at), "and", left, ParseNot());
        }

        return left;
    }

    private JinjaExpr ParseNot()
    {
        if (Current.IsName("not"))
        {
            JinjaToken at = Next();
            Enter();
            JinjaExpr operand = ParseNot();
            Leave();
            return new UnaryExpr(SourcePos.Of(at), "not", operand);
        }

        return ParseCompare();
    }

    private JinjaExpr ParseCompare()
    {
        JinjaToken start = Current;
        JinjaExpr first = ParseMath1();
        List<KeyValuePair<string, JinjaExpr>>? rest = null;
        while (true)
        {
            string op;
            if (Current.Kind == JinjaTokenKind.Operator && s_compareOperators.Contains(Current.Value))
            {
                op = Next().Value;
            }
            else if (Current.IsName("in"))
            {
                Next();
                op = "in";
            }
            else if (Current.IsName("not") && Look.IsName("in"))
            {
                Next();
                Next();
                op = "not in";
            }
            else
            {
                break;
            }

            (rest ??= []).Add(new(op, ParseMath1()));
        }

        return rest is null ? first : new CompareExpr(SourcePos.Of(start), first, rest);
    }

    private JinjaExpr ParseMath1()
    {
        JinjaExpr left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            JinjaToken op = Next();
            left = new BinaryExpr(SourcePos.Of(op), op.Value, left, ParseConcat());
        }

        return left;
    }

    private JinjaExpr ParseConcat()
    {
        JinjaToken start = Current;
        JinjaExpr first = ParseMath2();
        if (!Current.IsOperator("~"))
        {
            return first;
        }

        var items = new List<JinjaExpr> { first };
        while (SkipOperator("~"))
        {
            items.Add(ParseMath2());
        }

        return new ConcatExpr(SourcePos.Of(start), items);
    }

    private JinjaExpr ParseMath2()
    {
        JinjaExpr left = ParsePow();
        while (Current.Kind == JinjaTokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            JinjaToken op = Next();
            left = new BinaryExpr(SourcePos.Of(op), op.Value, left, ParsePow());
        }

        return left;
    }

    private JinjaExpr ParsePow()
    {
        JinjaExpr left = ParseUnary(withFilter: true);
        while (Current.IsOperator("**"))
        {
            JinjaToken op = Next();
            left = new BinaryExpr(SourcePos.Of(op), "**", left, ParseUnary(withFilter: true));
        }

        return left;
    }

    private JinjaExpr ParseUnary(bool withFilter)
    {
        Enter();
        JinjaToken t = Current;
        JinjaExpr node;
        if (t.IsOperator("-") || t.IsOperator("+"))
        {
            Next();
            node = new UnaryExpr(SourcePos.Of(t), t.Value, ParseUnary(withFilter: false));
        }
        else
        {
            node = ParsePrimary();
        }

        node = ParsePostfix(node);
        if (withFilter)
        {
            node = ParseFilterExpr(node);
        }

        Leave();
        return node;
    }

    private JinjaExpr ParsePrimary()
    {
        JinjaToken t = Current;
        SourcePos pos = SourcePos.Of(t);
        switch (t.Kind)
        {
            case JinjaTokenKind.Name:
                Next();
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(pos, true),
                    "false" or "False" => new ConstExpr(pos, false),
                    "none" or "None" => new ConstExpr(pos, null),
                    _ => new NameExpr(pos, t.Value),
                };
            case JinjaTokenKind.String:
                Next();
                string text = t.Value;
                while (Current.Kind == JinjaTokenKind.String)
                {
                    text += Next().Value;
                }

                return new ConstExpr(pos, text);
            case JinjaTokenKind.Integer or JinjaTokenKind.Float:
                Next();
                return new ConstExpr(pos, t.Literal);
            case JinjaTokenKind.Operator when t.Value == "(":
                Next();
                JinjaExpr inner = ParseTuple(withCondExpr: true, null, explicitParentheses: true);
                Expect(JinjaTokenKind.Operator, ")");
                return inner;
            case JinjaTokenKind.Operator when t.Value == "[":
                Next();
                var items = new List<JinjaExpr>();
                while (!Current.IsOperator("]"))
                {
                    if (items.Count > 0)
                    {
                        Expect(JinjaTokenKind.Operator, ",");
                        if (Current.IsOperator("]"))
                        {
                            break;
                        }
                    }

                    items.Add(ParseExpression(withCondExpr: true));
                }

                Expect(JinjaTokenKind.Operator, "]");
                return new ListExpr(pos, items);
            case JinjaTokenKind.Operator when t.Value == "{":
                Next();
                var pairs = new List<KeyValuePair<JinjaExpr, JinjaExpr>>();
                while (!Current.IsOperator("}"))
                {
                    if (pairs.Count > 0)
                    {
                        Expect(JinjaTokenKind.Operator, ",");
                        if (Current.IsOperator("}"))
                        {
                            break;
                        }
                    }

                    JinjaExpr key = ParseExpression(withCondExpr: true);
                    Expect(JinjaTokenKind.Operator, ":");
                    pairs.Add(new(key, ParseExpression(withCondExpr: true)));
                }

                Expect(JinjaTokenKind.Operator, "}");
                return new DictExpr(pos, pairs);
            case JinjaTokenKind.Eof:
                throw Fail("unexpected end of template, expected an expression", t);
            default:
                throw Fail($"unexpected {t.Describe()}", t);
        }
    }

    private JinjaExpr ParsePostfix(JinjaExpr node)
    {
        while (true)
        {
            JinjaToken t = Current;
            if (t.IsOperator(".") || t.IsOperator("["))
            {
                node = ParseSubscript(node);
            }
            else if (t.IsOperator("("))
            {
                node = new CallExpr(SourcePos.Of(t), node, ParseCallArgs());
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpr ParseFilterExpr(JinjaExpr node)
    {
        while (true)
        {
            JinjaToken t = Current;
            if (t.IsOperator("|"))
            {
                node = ParseFilterChain(node, startInline: false)!;
            }
            else if (t.IsName("is"))
            {
                node = ParseTest(node);
            }
            else if (t.IsOperator("("))
            {
                node = new CallExpr(SourcePos.Of(t), node, ParseCallArgs());
            }
            else
            {
                return node;
            }
        }
    }

    private JinjaExpr ParseSubscript(JinjaExpr node)
    {
        JinjaToken t = Next();
        if (t.Value == ".")
        {
            JinjaToken attr = Next();
            return attr.Kind switch
            {
                JinjaTokenKind.Name => new GetAttrExpr(SourcePos.Of(attr), node, attr.Value),
                JinjaTokenKind.Integer => new GetItemExpr(SourcePos.Of(attr), node, new ConstExpr(SourcePos.Of(attr), attr.Literal)),
                _ => throw Fail($"expected name or number after '.', got {attr.Describe()}", attr),
            };
        }

        var args = new List<JinjaExpr>();
        while (!Current.IsOperator("]"))
        {
            if (args.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
            }

            args.Add(ParseSubscribed());
        }

        Expect(JinjaTokenKind.Operator, "]");
        JinjaExpr key = args.Count == 1 ? args[0] : new TupleExpr(SourcePos.Of(t), args);
        return new GetItemExpr(SourcePos.Of(t), node, key);
    }

    private JinjaExpr ParseSubscribed()
    {
        JinjaToken start = Current;
        JinjaExpr? first = null;
        if (!SkipOperator(":"))
        {
            JinjaExpr node = ParseExpression(withCondExpr: true);
            if (!SkipOperator(":"))
            {
                return node;
            }

            first = node;
        }

        JinjaExpr? stop = null;
        if (!Current.IsOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(","))
        {
            stop = ParseExpression(withCondExpr: true);
        }

        JinjaExpr? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(","))
        {
            step = ParseExpression(withCondExpr: true);
        }

        return new SliceExpr(SourcePos.Of(start), first, stop, step);
    }

    private CallArgsNode ParseCallArgs()
    {
        Expect(JinjaTokenKind.Operator, "(");
        var positional = new List<JinjaExpr>();
        var named = new List<KeyValuePair<string, JinjaExpr>>();
        while (!Current.IsOperator(")"))
        {
            if (positional.Count + named.Count > 0)
            {
                Expect(JinjaTokenKind.Operator, ",");
                if (Current.IsOperator(")"))
                {
                    break;
                }
            }

            if (Current.IsOperator("*") || Current.IsOperator("**"))
            {
                throw Fail("*args and **kwargs in calls are not supported", Current);
            }

            if (Current.Kind == JinjaTokenKind.Name && Look.IsOperator("="))
            {
                string name = Next().Value;
                Next();
                named.Add(new(name, ParseExpression(withCondExpr: true)));
            }
            else
            {
                if (named.Count > 0)
                {
                    throw Fail("positional argument follows keyword argument", Current);
                }

                positional.Add(ParseExpression(withCondExpr: true));
            }
        }

        Expect(JinjaTokenKind.Operator, ")");
        return new CallArgsNode(positional, named);
    }

    private JinjaExpr? ParseFilterChain(JinjaExpr? node, bool startInline)
    {
        while (Current.IsOperator("|") || startInline)
        {
            if (!startInline)
            {
                Next();
            }

            startInline = false;
            JinjaToken nameToken = Expect(JinjaTokenKind.Name);
            string name = nameToken.Value;
            while (Current.IsOperator(".") && Look.Kind == JinjaTokenKind.Name)
            {
                Next();
                name += "." + Next().Value;
            }

            JinjaFilterFn function = JinjaFilters.Find(name)
                ?? throw Fail($"No filter named '{name}'", nameToken);
            CallArgsNode args = Current.IsOperator("(") ? ParseCallArgs() : CallArgsNode.None;
            node = new FilterExpr(SourcePos.Of(nameToken), node, name, function, args);
        }

        return node;
    }

    private JinjaExpr ParseTest(JinjaExpr node)
    {
        Next();
        bool negated = SkipName("not");
        JinjaToken nameToken = Expect(JinjaTokenKind.Name);
        string name = nameToken.Value;
        while (Current.IsOperator(".") && Look.Kind == JinjaTokenKind.Name)
        {
            Next();
            name += "." + Next().Value;
        }

        JinjaTestFn function = JinjaTestFunctions.Find(name)
            ?? throw Fail($"No test named '{name}'", nameToken);
        CallArgsNode args = CallArgsNode.None;
        JinjaToken t = Current;
        if (t.IsOperator("("))
        {
            args = ParseCallArgs();
        }
        else if ((t.Kind is JinjaTokenKind.Name or JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float
                || t.IsOperator("[") || t.IsOperator("{"))
            && !t.IsName("else") && !t.IsName("or") && !t.IsName("and"))
        {
            if (t.IsName("is"))
            {
                throw Fail("You cannot chain multiple tests with is", t);
            }

            Enter();
            JinjaExpr arg = ParsePostfix(ParsePrimary());
            Leave();
            args = new CallArgsNode([arg], []);
        }

        return new TestExpr(SourcePos.Of(nameToken), node, name, function, args, negated);
    }
}
