namespace R1Orleans.Text.Chat;

/// <summary>1-based line and column of a node in the template source.</summary>
internal readonly record struct SourcePos(int Line, int Column)
{
    public static SourcePos Of(JinjaToken token) => new(token.Line, token.Column);
}

internal delegate object? JinjaFilterFn(JinjaEvaluator evaluator, object? value, JinjaArgs args);

internal delegate bool JinjaTestFn(JinjaEvaluator evaluator, object? value, JinjaArgs args);

/// <summary>Arguments as written at a call site: positional expressions, then <c>name=expr</c> pairs.</summary>
internal sealed record CallArgsNode(List<JinjaExpr> Positional, List<KeyValuePair<string, JinjaExpr>> Named)
{
    public static CallArgsNode None { get; } = new([], []);
}

// ---- expressions ----

internal abstract record JinjaExpr(SourcePos Pos);

internal sealed record ConstExpr(SourcePos Pos, object? Value) : JinjaExpr(Pos);

internal sealed record NameExpr(SourcePos Pos, string Name) : JinjaExpr(Pos);

internal sealed record ListExpr(SourcePos Pos, List<JinjaExpr> Items) : JinjaExpr(Pos);

internal sealed record TupleExpr(SourcePos Pos, List<JinjaExpr> Items) : JinjaExpr(Pos);

internal sealed record DictExpr(SourcePos Pos, List<KeyValuePair<JinjaExpr, JinjaExpr>> Items) : JinjaExpr(Pos);

/// <summary><c>target.name</c>: a Python attribute (method) first, then the item <c>name</c>.</summary>
internal sealed record GetAttrExpr(SourcePos Pos, JinjaExpr Target, string Name) : JinjaExpr(Pos);

/// <summary><c>target[key]</c>: the item first, then a Python attribute of that name.</summary>
internal sealed record GetItemExpr(SourcePos Pos, JinjaExpr Target, JinjaExpr Key) : JinjaExpr(Pos);

internal sealed record SliceExpr(SourcePos Pos, JinjaExpr? Start, JinjaExpr? Stop, JinjaExpr? Step) : JinjaExpr(Pos);

internal sealed record CallExpr(SourcePos Pos, JinjaExpr Callee, CallArgsNode Args) : JinjaExpr(Pos);

/// <summary><c>target|name(args)</c>; <see cref="Target"/> is null at the head of a <c>{% filter %}</c> or <c>{% set x | f %}</c> chain.</summary>
internal sealed record FilterExpr(SourcePos Pos, JinjaExpr? Target, string Name, JinjaFilterFn Function, CallArgsNode Args) : JinjaExpr(Pos);

internal sealed record TestExpr(SourcePos Pos, JinjaExpr Target, string Name, JinjaTestFn Function, CallArgsNode Args, bool Negated) : JinjaExpr(Pos);

/// <summary><c>-x</c>, <c>+x</c>, <c>not x</c>.</summary>
internal sealed record UnaryExpr(SourcePos Pos, string Operator, JinjaExpr Operand) : JinjaExpr(Pos);

/// <summary>Arithmetic (<c>+ - * / // % **</c>) and the short-circuit <c>and</c>/<c>or</c>.</summary>
internal sealed record BinaryExpr(SourcePos Pos, string Operator, JinjaExpr Left, JinjaExpr Right) : JinjaExpr(Pos);

/// <summary><c>a ~ b ~ c</c>: string conversion and concatenation.</summary>
internal sealed record ConcatExpr(SourcePos Pos, List<JinjaExpr> Items) : JinjaExpr(Pos);

/// <summary>A comparison chain <c>a == b</c>, <c>a &lt; b &lt;= c</c>, <c>a in b</c>, <c>a not in b</c>.</summary>
internal sealed record CompareExpr(SourcePos Pos, JinjaExpr First, List<KeyValuePair<string, JinjaExpr>> Rest) : JinjaExpr(Pos);

/// <summary><c>then if test else otherwise</c>; without <c>else</c> a false test gives undefined.</summary>
internal sealed record CondExpr(SourcePos Pos, JinjaExpr Test, JinjaExpr Then, JinjaExpr? Else) : JinjaExpr(Pos);

// ---- assignment targets ----

internal abstract record JinjaTarget(SourcePos Pos);

internal sealed record NameTarget(SourcePos Pos, string Name) : JinjaTarget(Pos);

/// <summary><c>ns.attr</c> on the left of <c>{% set %}</c>: only namespaces accept it.</summary>
internal sealed record NamespaceTarget(SourcePos Pos, string Name, string Attribute) : JinjaTarget(Pos);

internal sealed record TupleTarget(SourcePos Pos, List<JinjaTarget> Items) : JinjaTarget(Pos);

// ---- statements ----

internal abstract record JinjaStmt(SourcePos Pos);

internal sealed record OutputStmt(SourcePos Pos, string Text) : JinjaStmt(Pos);

internal sealed record PrintStmt(SourcePos Pos, JinjaExpr Value) : JinjaStmt(Pos);

internal sealed record IfStmt(SourcePos Pos, List<KeyValuePair<JinjaExpr, List<JinjaStmt>>> Branches, List<JinjaStmt>? Else) : JinjaStmt(Pos);

internal sealed record ForStmt(SourcePos Pos, JinjaTarget Target, JinjaExpr Iterable, JinjaExpr? Filter, List<JinjaStmt> Body, List<JinjaStmt>? Else) : JinjaStmt(Pos);

internal sealed record SetStmt(SourcePos Pos, JinjaTarget Target, JinjaExpr Value) : JinjaStmt(Pos);

internal sealed record SetBlockStmt(SourcePos Pos, JinjaTarget Target, FilterExpr? Filter, List<JinjaStmt> Body) : JinjaStmt(Pos);

internal sealed record MacroParam(string Name, JinjaExpr? Default);

internal sealed record MacroStmt(SourcePos Pos, string Name, List<MacroParam> Params, List<JinjaStmt> Body) : JinjaStmt(Pos);

internal sealed record BreakStmt(SourcePos Pos) : JinjaStmt(Pos);

internal sealed record ContinueStmt(SourcePos Pos) : JinjaStmt(Pos);

internal sealed record FilterBlockStmt(SourcePos Pos, FilterExpr Filter, List<JinjaStmt> Body) : JinjaStmt(Pos);

internal sealed record WithStmt(SourcePos Pos, List<KeyValuePair<JinjaTarget, JinjaExpr>> Assignments, List<JinjaStmt> Body) : JinjaStmt(Pos);

/// <summary>A body run in place: Hugging Face's <c>{% generation %}</c> block.</summary>
internal sealed record BlockStmt(SourcePos Pos, List<JinjaStmt> Body) : JinjaStmt(Pos);
