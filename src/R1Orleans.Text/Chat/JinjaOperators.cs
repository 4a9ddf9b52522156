using System.Text;

namespace R1Orleans.Text.Chat;

/// <summary>Python's arithmetic and comparison operators on the Jinja value model (integers overflow-checked).</summary>
internal static class JinjaOperators
{
    public static void CheckLength(long length, JinjaOptions options)
    {
        if (length > options.MaxOutputLength)
        {
            throw new JinjaError($"string would exceed the limit of {options.MaxOutputLength} characters");
        }
    }

    public static void CheckCount(long count, JinjaOptions options)
    {
        if (count > options.MaxSequenceLength)
        {
            throw new JinjaError($"list would exceed the limit of {options.MaxSequenceLength} items");
        }
    }

    public static object? Unary(string op, object? operand)
    {
        if (operand is JinjaUndefined u)
        {
            throw u.Fail();
        }

        return operand switch
        {
            bool or long when op == "-" => (object)checked(-JinjaValue.AsLong(operand)),
            bool or long => (object)JinjaValue.AsLong(operand),
            double d => (object)(op == "-" ? -d : d),
            _ => throw new JinjaError($"bad operand type for unary {op}: '{JinjaFormat.TypeName(operand)}'"),
        };
    }

    public static object? Binary(string op, object? left, object? right, JinjaOptions options)
    {
        if (left is JinjaUndefined ul)
        {
            throw ul.Fail();
        }

        // Python's str % x runs before x is consulted, so "text" % undefined formats (undefined prints as nothing).
        if (right is JinjaUndefined ur && !(op == "%" && left is string))
        {
            throw ur.Fail();
        }

        try
        {
            return op switch
            {
                "+" => Add(left, right, options),
                "-" => Arithmetic(op, left, right, (a, b) => checked(a - b), (a, b) => a - b),
                "*" => Multiply(left, right, options),
                "/" => Divide(left, right),
                "//" => FloorDivide(left, right),
                "%" => left is string format ? JinjaStrings.PercentFormat(format, right, options) : Modulo(left, right),
                "**" => Power(left, right),
                _ => throw new JinjaError($"unknown operator {op}"),
            };
        }
        catch (OverflowException)
        {
            throw new JinjaError($"integer overflow in '{op}'");
        }
    }

    private static object? Add(object? left, object? right, JinjaOptions options)
    {
        switch (left)
        {
            case string a when right is string b:
                CheckLength((long)a.Length + b.Length, options);
                return a + b;
            case string:
                throw new JinjaError($"can only concatenate str (not \"{JinjaFormat.TypeName(right)}\") to str");
            case List<object?> a when right is List<object?> b:
                CheckCount((long)a.Count + b.Count, options);
                return new List<object?>([.. a, .. b]);
            case object?[] a when right is object?[] b:
                CheckCount((long)a.Length + b.Length, options);
                return (object?[])[.. a, .. b];
            default:
                return Arithmetic("+", left, right, (a, b) => checked(a + b), (a, b) => a + b);
        }
    }

    private static object? Multiply(object? left, object? right, JinjaOptions options)
    {
        if (JinjaValue.IsInteger(right) && left is string or List<object?> or object?[])
        {
            return Repeat(left!, JinjaValue.AsLong(right), options);
        }

        if (JinjaValue.IsInteger(left) && right is string or List<object?> or object?[])
        {
            return Repeat(right!, JinjaValue.AsLong(left), options);
        }

        return Arithmetic("*", left, right, (a, b) => checked(a * b), (a, b) => a * b);
    }

    private static object Repeat(object sequence, long times, JinjaOptions options)
    {
        times = Math.Max(0, times);
        switch (sequence)
        {
            case string s:
                CheckLength(s.Length * times, options);
                var sb = new StringBuilder();
                for (long i = 0; i < times; i++)
                {
                    sb.Append(s);
                }

                return sb.ToString();
            default:
                var items = (IReadOnlyList<object?>)sequence;
                CheckCount(items.Count * times, options);
                var result = new List<object?>();
                for (long i = 0; i < times; i++)
                {
                    result.AddRange(items);
                }

                return sequence is object?[] ? result.ToArray() : result;
        }
    }

    private static object Divide(object? left, object? right)
    {
        RequireNumbers("/", left, right);
        double b = JinjaValue.AsDouble(right);
        if (b == 0)
        {
            throw new JinjaError("division by zero");
        }

        return JinjaValue.AsDouble(left) / b;
    }

    private static object FloorDivide(object? left, object? right)
    {
        RequireNumbers("//", left, right);
        if (JinjaValue.IsInteger(left) && JinjaValue.IsInteger(right))
        {
            long a = JinjaValue.AsLong(left);
            long b = JinjaValue.AsLong(right);
            if (b == 0)
            {
                throw new JinjaError("integer division or modulo by zero");
            }

            long q = checked(a / b);
            return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q;
        }

        double y = JinjaValue.AsDouble(right);
        if (y == 0)
        {
            throw new JinjaError("float floor division by zero");
        }

        return Math.Floor(JinjaValue.AsDouble(left) / y);
    }

    private static object Modulo(object? left, object? right)
    {
        RequireNumbers("%", left, right);
        if (JinjaValue.IsInteger(left) && JinjaValue.IsInteger(right))
        {
            long a = JinjaValue.AsLong(left);
            long b = JinjaValue.AsLong(right);
            if (b == 0)
            {
                throw new JinjaError("integer division or modulo by zero");
            }

            long r = a % b;
            return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
        }

        double x = JinjaValue.AsDouble(left);
        double y = JinjaValue.AsDouble(right);
        if (y == 0)
        {
            throw new JinjaError("float modulo");
        }

        double m = x % y;
        return m != 0 && ((m < 0) != (y < 0)) ? m + y : m;
    }

    private static object Power(object? left, object? right)
    {
        RequireNumbers("**", left, right);
        if (JinjaValue.IsInteger(left) && JinjaValue.IsInteger(right) && JinjaValue.AsLong(right) >= 0)
        {
            long b = JinjaValue.AsLong(left);
            long e = JinjaValue.AsLong(right);
            long result = 1;
            while (e > 0)
            {
                if ((e & 1) != 0)
                {
                    result = checked(result * b);
                }

                e >>= 1;
                if (e > 0)
                {
                    b = checked(b * b);
                }
            }

            return result;
        }

        return Math.Pow(JinjaValue.AsDouble(left), JinjaValue.AsDouble(right));
    }

    private static object Arithmetic(string op, object? left, object? right, Func<long, long, long> integers, Func<double, double, double> floats)
    {
        RequireNumbers(op, left, right);
        return JinjaValue.IsInteger(left) && JinjaValue.IsInteger(right)
            ? (object)integers(JinjaValue.AsLong(left), JinjaValue.AsLong(right))
            : (object)floats(JinjaValue.AsDouble(left), JinjaValue.AsDouble(right));
    }

    private static void RequireNumbers(string op, object? left, object? right)
    {
        if (!JinjaValue.IsNumber(left) || !JinjaValue.IsNumber(right))
        {
            throw new JinjaError(
                $"unsupported operand type(s) for {op}: '{JinjaFormat.TypeName(left)}' and '{JinjaFormat.TypeName(right)}'");
        }
    }

    public static bool Compare(string op, object? left, object? right) => op switch
    {
        "==" => JinjaValue.Equal(left, right),
        "!=" => !JinjaValue.Equal(left, right),
        "<" => JinjaValue.Compare(left, right) < 0,
        "<=" => JinjaValue.Compare(left, right) <= 0,
        ">" => JinjaValue.Compare(left, right) > 0,
        ">=" => JinjaValue.Compare(left, right) >= 0,
        "in" => JinjaValue.Contains(right, left),
        "not in" => !JinjaValue.Contains(right, left),
        _ => throw new JinjaError($"unknown comparison {op}"),
    };
}
