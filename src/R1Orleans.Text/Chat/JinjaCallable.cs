namespace R1Orleans.Text.Chat;

/// <summary>A value that a template can call: a global function, a bound method of a string/dict/list, a macro.</summary>
internal abstract class JinjaCallable
{
    public abstract string Name { get; }

    public abstract object? Invoke(JinjaEvaluator evaluator, JinjaArgs args);
}

/// <summary>A callable implemented in C#.</summary>
internal sealed class JinjaFunction : JinjaCallable
{
    private readonly Func<JinjaEvaluator, JinjaArgs, object?> _body;

    public JinjaFunction(string name, Func<JinjaEvaluator, JinjaArgs, object?> body)
    {
        Name = name;
        _body = body;
    }

    public override string Name { get; }

    public override object? Invoke(JinjaEvaluator evaluator, JinjaArgs args) => _body(evaluator, args);
}

/// <summary>A method looked up on a value (<c>content.split</c>, <c>message.get</c>), called later.</summary>
internal sealed class JinjaBoundMethod : JinjaCallable
{
    public JinjaBoundMethod(object target, string name)
    {
        Target = target;
        Name = name;
    }

    public object Target { get; }

    public override string Name { get; }

    public override object? Invoke(JinjaEvaluator evaluator, JinjaArgs args) =>
        JinjaMethods.Call(evaluator, Target, Name, args);
}
