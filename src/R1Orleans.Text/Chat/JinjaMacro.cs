namespace R1Orleans.Text.Chat;

/// <summary>A <c>{% macro %}</c> bound to the scope it was defined in; calling it renders its body to a string.</summary>
internal sealed class JinjaMacro : JinjaCallable
{
    public JinjaMacro(MacroStmt definition, JinjaScope closure)
    {
        Definition = definition;
        Closure = closure;
    }

    public MacroStmt Definition { get; }

    public JinjaScope Closure { get; }

    public override string Name => Definition.Name;

    public override object? Invoke(JinjaEvaluator evaluator, JinjaArgs args) => evaluator.CallMacro(this, args);
}
