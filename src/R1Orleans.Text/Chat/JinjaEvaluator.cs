using System.Runtime.CompilerServices;
using System.Text;

namespace R1Orleans.Text.Chat;

/// <summary>
/// Walks the parsed template and writes its output. Every statement and expression costs one step of
/// <see cref="JinjaOptions.MaxSteps"/> and one level of <see cref="JinjaOptions.MaxDepth"/> while it runs, and the
/// output is capped by <see cref="JinjaOptions.MaxOutputLength"/>: loops only walk finite lists, so a render always
/// ends. Errors surface as <see cref="TemplateException"/> at the innermost node that failed.
/// </summary>
internal sealed class JinjaEvaluator
{
    private readonly JinjaOptions _options;
    private StringBuilder _out = new();
    private long _steps;
    private int _depth;

    private JinjaEvaluator(JinjaOptions options)
    {
        _options = options;
    }

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    public JinjaOptions Options => _options;

    public static string Render(List<JinjaStmt> body, JinjaScope scope, JinjaOptions options)
    {
        var evaluator = new JinjaEvaluator(options);
        evaluator.Exec(body, scope);
        return evaluator._out.ToString();
    }

    // ---- statements ----

    private Flow Exec(List<JinjaStmt> body, JinjaScope scope)
    {
        foreach (JinjaStmt stmt in body)
        {
            Flow flow = ExecOne(stmt, scope);
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }

        return Flow.Normal;
    }

    private Flow ExecOne(JinjaStmt stmt, JinjaScope scope)
    {
        try
        {
            Enter();
            switch (stmt)
            {
                case OutputStmt output:
                    Write(output.Text);
                    return Flow.Normal;
                case PrintStmt print:
                    Write(JinjaFormat.ToStr(Eval(print.Value, scope)));
                    return Flow.Normal;
                case IfStmt ifStmt:
                    foreach (KeyValuePair<JinjaExpr, List<JinjaStmt>> branch in ifStmt.Branches)
                    {
                        if (JinjaValue.Truthy(Eval(branch.Key, scope)))
                        {
                            return Exec(branch.Value, scope);
                        }
                    }

                    return ifStmt.Else is null ? Flow.Normal : Exec(ifStmt.Else, scope);
                case ForStmt forStmt:
                    ExecFor(forStmt, scope);
                    return Flow.Normal;
                case SetStmt set:
                    Assign(set.Target, Eval(set.Value, scope), scope);
                    return Flow.Normal;
                case SetBlockStmt setBlock:
                    object? captured = Capture(setBlock.Body, scope);
                    if (setBlock.Filter is not null)
                    {
                        captured = ApplyFilterChain(setBlock.Filter, captured, scope);
                    }

                    Assign(setBlock.Target, captured, scope);
                    return Flow.Normal;
                case MacroStmt macro:
                    scope.Set(macro.Name, new JinjaMacro(macro, scope));
                    return Flow.Normal;
                case BreakStmt:
                    return Flow.Break;
                case ContinueStmt:
                    return Flow.Continue;
                case FilterBlockStmt filterBlock:
                    Write(JinjaFormat.ToStr(ApplyFilterChain(filterBlock.Filter, Capture(filterBlock.Body, scope), scope)));
                    return Flow.Normal;
                case WithStmt with:
                    var inner = new JinjaScope(scope);
                    foreach (KeyValuePair<JinjaTarget, JinjaExpr> assignment in with.Assignments)
                    {
                        Assign(assignment.Key, Eval(assignment.Value, scope), inner);
                    }

                    return Exec(with.Body, inner);
                case BlockStmt block:
                    return Exec(block.Body, scope);
                default:
                    throw new JinjaError($"unsupported statement {stmt.GetType().Name}");
            }
        }
        catch (JinjaError e)
        {
            throw new TemplateException(e.Message, stmt.Pos.Line, stmt.Pos.Column, e.RaisedByTemplate);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new TemplateException("template nesting exhausts the stack", stmt.Pos.Line, stmt.Pos.Column);
        }
        finally
        {
            _depth--;
        }
    }

    private void ExecFor(ForStmt f, JinjaScope scope)
    {
        IReadOnlyList<object?> items = JinjaValue.Iterate(Eval(f.Iterable, scope));
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                var test = new JinjaScope(scope);
                Assign(f.Target, item, test);
                if (JinjaValue.Truthy(Eval(f.Filter, test)))
                {
                    kept.Add(item);
                }
            }

            items = kept;
        }

        if (items.Count == 0)
        {
            if (f.Else is not null)
            {
                Exec(f.Else, new JinjaScope(scope));
            }

            return;
        }

        var loop = new JinjaLoop(items, 0);
        for (int i = 0; i < items.Count; i++)
        {
            Charge(1);
            loop.Index0 = i;
            var iteration = new JinjaScope(scope);
            iteration.Set("loop", loop);
            Assign(f.Target, items[i], iteration);
            if (Exec(f.Body, iteration) == Flow.Break)
            {
                break;
            }
        }
    }

    private void Assign(JinjaTarget target, object? value, JinjaScope scope)
    {
        switch (target)
        {
            case NameTarget name:
                scope.Set(name.Name, value);
                break;
            case NamespaceTarget ns:
                if (scope.Get(ns.Name) is not JinjaNamespace space)
                {
                    throw new JinjaError($"cannot assign attribute '{ns.Attribute}' on non-namespace object '{ns.Name}'");
                }

                space.Attributes[ns.Attribute] = value;
                break;
            case TupleTarget tuple:
                if (value is JinjaUndefined u)
                {
                    throw u.Fail();
                }

                IReadOnlyList<object?> values = JinjaValue.Iterate(value);
                if (values.Count != tuple.Items.Count)
                {
                    throw new JinjaError(values.Count > tuple.Items.Count
                        ? $"too many values to unpack (expected {tuple.Items.Count})"
                        : $"not enough values to unpack (expected {tuple.Items.Count}, got {values.Count})");
                }

                for (int i = 0; i < values.Count; i++)
                {
                    Assign(tuple.Items[i], values[i], scope);
                }

                break;
        }
    }

    private string Capture(List<JinjaStmt> body, JinjaScope scope)
    {
        StringBuilder saved = _out;
        _out = new StringBuilder();
        try
        {
            Exec(body, scope);
            return _out.ToString();
        }
        finally
        {
            _out = saved;
        }
    }

    public object? CallMacro(JinjaMacro macro, JinjaArgs args)
    {
        var scope = new JinjaScope(macro.Closure);
        List<MacroParam> parameters = macro.Definition.Params;
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < parameters.Count; i++)
        {
            MacroParam p = parameters[i];
            object? value;
            if (i < args.Positional.Count)
            {
                value = args.Positional[i];
            }
            else if (args.Has(-1, p.Name))
            {
                value = args.Get(-1, p.Name);
                used.Add(p.Name);
            }
            else if (p.Default is not null)
            {
                value = Eval(p.Default, scope);
            }
            else
            {
                value = JinjaUndefined.WithDescription($"parameter '{p.Name}' was not provided");
            }

            scope.Set(p.Name, value);
        }

        var kwargs = JinjaValue.NewDict();
        foreach (KeyValuePair<string, object?> kv in args.Named)
        {
            if (!used.Contains(kv.Key) && !parameters.Exists(p => p.Name == kv.Key))
            {
                kwargs[kv.Key] = kv.Value;
            }
        }

        scope.Set("varargs", args.Positional.Skip(parameters.Count).ToArray());
        scope.Set("kwargs", kwargs);
        return Capture(macro.Definition.Body, scope);
    }

    private void Write(string text)
    {
        if (_out.Length + (long)text.Length > _options.MaxOutputLength)
        {
            throw new JinjaError($"template output exceeds the limit of {_options.MaxOutputLength} characters");
        }

        _out.Append(text);
        Charge(text.Length >> 6);
    }

    /// <summary>Counts work beyond one step: each loop iteration, and new strings and lists by their size.</summary>
    private void Charge(long steps)
    {
        _steps += steps;
        if (_steps > _options.MaxSteps)
        {
            throw new JinjaError($"template exceeded the limit of {_options.MaxSteps} evaluation steps");
        }
    }

    private void ChargeFor(object? value)
    {
        switch (value)
        {
            case string s when s.Length >= 64:
                Charge(s.Length >> 6);
                break;
            case List<object?> list when list.Count >= 16:
                Charge(list.Count >> 4);
                break;
        }
    }

    private void Enter()
    {
        if (++_steps > _options.MaxSteps)
        {
            _depth++;
            throw new JinjaError($"template exceeded the limit of {_options.MaxSteps} evaluation steps");
        }

        if (++_depth > _options.MaxDepth)
        {
            throw new JinjaError($"template evaluation nested deeper than {_options.MaxDepth} levels");
        }

        RuntimeHelpers.EnsureSufficientExecutionStack();
    }

    // ---- expressions ----

    public object? Eval(JinjaExpr expr, JinjaScope scope)
    {
        try
        {
            Enter();
            object? value = EvalCore(expr, scope);
            if (expr is BinaryExpr or ConcatExpr or FilterExpr or CallExpr)
            {
                ChargeFor(value);
            }

            return value;
        }
        catch (JinjaError e)
        {
            throw new TemplateException(e.Message, expr.Pos.Line, expr.Pos.Column, e.RaisedByTemplate);
        }
        catch (OverflowException)
        {
            throw new TemplateException("integer overflow", expr.Pos.Line, expr.Pos.Column);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new TemplateException("template nesting exhausts the stack", expr.Pos.Line, expr.Pos.Column);
        }
        finally
        {
            _depth--;
        }
    }

    private object? EvalCore(JinjaExpr expr, JinjaScope scope)
    {
        switch (expr)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                return scope.Get(n.Name);
            case ListExpr list:
                return list.Items.ConvertAll(item => Eval(item, scope));
            case TupleExpr tuple:
                return tuple.Items.ConvertAll(item => Eval(item, scope)).ToArray();
            case DictExpr dict:
                var result = JinjaValue.NewDict();
                foreach (KeyValuePair<JinjaExpr, JinjaExpr> kv in dict.Items)
                {
                    object? key = Eval(kv.Key, scope);
                    if (!JinjaValue.IsHashable(key) || key is null)
                    {
                        throw key is null
                            ? new JinjaError("None keys are not supported in dict literals")
                            : new JinjaError($"unhashable type: '{JinjaFormat.TypeName(key)}'");
                    }

                    result[key] = Eval(kv.Value, scope);
                }

                return result;
            case GetAttrExpr attr:
                return JinjaAccess.GetAttr(Eval(attr.Target, scope), attr.Name);
            case GetItemExpr item:
                object? target = Eval(item.Target, scope);
                if (item.Key is SliceExpr slice)
                {
                    return JinjaAccess.GetSlice(
                        target,
                        slice.Start is null ? null : Eval(slice.Start, scope),
                        slice.Stop is null ? null : Eval(slice.Stop, scope),
                        slice.Step is null ? null : Eval(slice.Step, scope));
                }

                return JinjaAccess.GetItem(target, Eval(item.Key, scope));
            case SliceExpr:
                throw new JinjaError("a slice is only allowed inside a subscript");
            case CallExpr call:
                object? callee = Eval(call.Callee, scope);
                JinjaArgs callArgs = EvalArgs(call.Args, scope);
                return callee switch
                {
                    JinjaCallable f => f.Invoke(this, callArgs),
                    JinjaUndefined u => throw u.Fail(),
                    _ => throw new JinjaError($"'{JinjaFormat.TypeName(callee)}' object is not callable"),
                };
            case FilterExpr filter:
                return ApplyFilterChain(filter, null, scope);
            case TestExpr test:
                bool passed = test.Function(this, Eval(test.Target, scope), EvalArgs(test.Args, scope));
                return test.Negated ? !passed : passed;
            case UnaryExpr unary:
                object? operand = Eval(unary.Operand, scope);
                return unary.Operator == "not" ? !JinjaValue.Truthy(operand) : JinjaOperators.Unary(unary.Operator, operand);
            case BinaryExpr binary:
                object? left = Eval(binary.Left, scope);
                return binary.Operator switch
                {
                    "and" => JinjaValue.Truthy(left) ? Eval(binary.Right, scope) : left,
                    "or" => JinjaValue.Truthy(left) ? left : Eval(binary.Right, scope),
                    _ => JinjaOperators.Binary(binary.Operator, left, Eval(binary.Right, scope), _options),
                };
            case ConcatExpr concat:
                var sb = new StringBuilder();
                foreach (JinjaExpr part in concat.Items)
                {
                    sb.Append(JinjaFormat.ToStr(Eval(part, scope)));
                    JinjaOperators.CheckLength(sb.Length, _options);
                }

                return sb.ToString();
            case CompareExpr compare:
                object? current = Eval(compare.First, scope);
                foreach (KeyValuePair<string, JinjaExpr> step in compare.Rest)
                {
                    object? next = Eval(step.Value, scope);
                    if (!JinjaOperators.Compare(step.Key, current, next))
                    {
                        return false;
                    }

                    current = next;
                }

                return true;
            case CondExpr cond:
                if (JinjaValue.Truthy(Eval(cond.Test, scope)))
                {
                    return Eval(cond.Then, scope);
                }

                return cond.Else is null
                    ? JinjaUndefined.WithDescription("the inline if-expression evaluated to false and no else section was defined")
                    : Eval(cond.Else, scope);
            default:
                throw new JinjaError($"unsupported expression {expr.GetType().Name}");
        }
    }

    /// <summary>Evaluates a filter chain; its innermost target is <paramref name="input"/> when the chain has none.</summary>
    private object? ApplyFilterChain(FilterExpr filter, object? input, JinjaScope scope)
    {
        object? value = filter.Target switch
        {
            null => input,
            FilterExpr inner => ApplyFilterChain(inner, input, scope),
            JinjaExpr target => Eval(target, scope),
        };
        JinjaArgs args = EvalArgs(filter.Args, scope);
        try
        {
            return filter.Function(this, value, args);
        }
        catch (JinjaError e)
        {
            throw new TemplateException(e.Message, filter.Pos.Line, filter.Pos.Column, e.RaisedByTemplate);
        }
    }

    private JinjaArgs EvalArgs(CallArgsNode args, JinjaScope scope)
    {
        if (args.Positional.Count == 0 && args.Named.Count == 0)
        {
            return JinjaArgs.Empty;
        }

        List<object?> positional = args.Positional.ConvertAll(a => Eval(a, scope));
        List<KeyValuePair<string, object?>> named = args.Named.ConvertAll(kv => new KeyValuePair<string, object?>(kv.Key, Eval(kv.Value, scope)));
        return new JinjaArgs(positional, named);
    }

    /// <summary>Runs a filter by name from inside another filter (<c>map('upper')</c>).</summary>
    public object? CallFilter(string name, object? value, JinjaArgs args)
    {
        JinjaFilterFn function = JinjaFilters.Find(name) ?? throw new JinjaError($"No filter named '{name}'");
        return function(this, value, args);
    }

    /// <summary>Runs a test by name from inside a filter (<c>select('odd')</c>, <c>selectattr('x', 'defined')</c>).</summary>
    public bool CallTest(string name, object? value, JinjaArgs args)
    {
        JinjaTestFn function = JinjaTestFunctions.Find(name) ?? throw new JinjaError($"No test named '{name}'");
        return function(this, value, args);
    }
}
