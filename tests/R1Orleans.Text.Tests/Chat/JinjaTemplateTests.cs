using System.Text.Json;
using R1Orleans.Text.Chat;

namespace R1Orleans.Text.Tests.Chat;

/// <summary>The Jinja features chat templates rely on, their error reporting, and the limits on untrusted templates.</summary>
public sealed class JinjaTemplateTests
{
    private static string Render(string template, object? variables = null, JinjaOptions? options = null)
    {
        var values = new Dictionary<string, object?>();
        if (variables is not null)
        {
            using JsonDocument doc = JsonDocument.Parse(JsonSerializer.Serialize(variables));
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                values[p.Name] = TemplateValues.FromJson(p.Value);
            }
        }

        return JinjaTemplate.Parse(template, options).Render(values);
    }

    private static TemplateException RenderFails(string template, object? variables = null, JinjaOptions? options = null) =>
        Assert.Throws<TemplateException>(() => Render(template, variables, options));

    [Fact]
    public void Whitespace_markers_strip_all_whitespace_beside_the_tag()
    {
        Assert.Equal("abc", Render("a  {%- if true -%}  b  {%- endif -%}  c"));
        Assert.Equal("[x]", Render("[ \n {{- 'x' -}} \n ]"));
        Assert.Equal("ab", Render("a {#- comment -#} b"));
    }

    [Fact]
    public void Trim_blocks_and_lstrip_blocks_are_on_by_default_and_can_be_turned_off()
    {
        const string template = "  {% if true %}\nx\n  {% endif %}\n";

        Assert.Equal("x\n", Render(template));
        Assert.Equal("  \nx\n  ", Render(template, options: new JinjaOptions { TrimBlocks = false, LstripBlocks = false }));
        Assert.Equal("  x\n  ", Render("  {%+ if true %}\nx\n  {%+ endif %}"));
    }

    [Fact]
    public void Trailing_newline_of_the_template_is_dropped_unless_kept()
    {
        Assert.Equal("x", Render("x\n"));
        Assert.Equal("x\n", Render("x\n", options: new JinjaOptions { KeepTrailingNewline = true }));
        Assert.Equal("a\nb", Render("a\r\nb"));
    }

    [Fact]
    public void Loop_variables_describe_the_position()
    {
        Assert.Equal(
            "10TrueFalse3 21FalseFalse3 32FalseTrue3 ",
            Render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}"));
        Assert.Equal("3-2-1-", Render("{% for x in [1, 2, 3] %}{{ loop.revindex }}-{% endfor %}"));
        Assert.Equal("a,b;b,c;c,;", Render("{% for x in 'abc' %}{{ x }},{{ loop.nextitem }};{% endfor %}"));
    }

    [Fact]
    public void Set_in_a_loop_stays_in_the_loop_but_namespace_attributes_persist()
    {
        Assert.Equal(
            "0/6",
            Render("{% set x = 0 %}{% set ns = namespace(x=0) %}{% for i in [1, 2, 3] %}{% set x = i %}{% set ns.x = ns.x + i %}{% endfor %}{{ x }}/{{ ns.x }}"));
        Assert.Equal("5", Render("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"));
    }

    [Fact]
    public void Filters_and_methods_behave_like_python()
    {
        Assert.Equal(
            "a|3|{\"k\": \"é\", \"n\": [1, null]}|5x|B|s|2",
            Render("{{ '  a  '|trim }}|{{ [1, 2, 3]|length }}|{{ {'k': 'é', 'n': [1, none]}|tojson }}|{{ 5|string ~ 'x' }}|{{ 'A</think>B'.split('</think>')[-1] }}|{{ ' s '.strip() }}|{{ 'ab'|length }}"));
        Assert.Equal("cb", Render("{{ 'abc'[1:][::-1] }}"));
    }

    [Fact]
    public void Missing_names_and_keys_are_undefined_and_falsy()
    {
        Assert.Equal(
            "|False|True|False||0|empty",
            Render(
                "{{ missing }}|{{ missing is defined }}|{{ not missing }}|{{ m['nokey'] is defined }}|{{ m.nokey }}|{{ missing|length }}|{% for x in missing %}x{% else %}empty{% endfor %}",
                new { m = new { a = 1 } }));
    }

    [Fact]
    public void Reaching_into_an_undefined_value_is_an_error_at_its_position()
    {
        TemplateException e = RenderFails("{{ m.a.b }}", new { m = new { } });

        Assert.Contains("has no attribute 'a'", e.Message, StringComparison.Ordinal);
        Assert.Equal((1, 8), (e.Line, e.Column));
    }

    [Fact]
    public void Syntax_error_reports_line_and_column()
    {
        TemplateException e = Assert.Throws<TemplateException>(() =>
            JinjaTemplate.Parse("line one\n{{ 'ok' }}\n{% if x %}\n  {{ foo( }}\n{% endif %}"));

        Assert.Equal((4, 11), (e.Line, e.Column));
        Assert.Contains("expected ')'", e.Reason, StringComparison.Ordinal);
        Assert.Contains("line 4, column 11", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_filter_fails_at_parse_time_with_its_position()
    {
        TemplateException e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ x }}\n{{ x|frobnicate }}"));

        Assert.Equal("No filter named 'frobnicate'", e.Reason);
        Assert.Equal((2, 6), (e.Line, e.Column));
    }

    [Theory]
    [InlineData("{% frob %}", "unknown tag 'frob'")]
    [InlineData("{% if true %}x", "'endif'")]
    [InlineData("{% for x in y %}{% endif %}", "unknown tag 'endif'")]
    [InlineData("{{ x is frob }}", "No test named 'frob'")]
    [InlineData("{{ 'open }}", "unterminated string")]
    [InlineData("{# never closed", "Missing end of comment")]
    [InlineData("{{ x ", "expected '}}'")]
    [InlineData("{% break %}", "outside of a for loop")]
    [InlineData("{% include 'x' %}", "not supported")]
    public void Malformed_templates_fail_to_parse(string template, string reason)
    {
        TemplateException e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(template));

        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
        Assert.True(e.Line >= 1 && e.Column >= 1);
    }

    [Fact]
    public void Type_errors_name_the_operator_position()
    {
        TemplateException e = RenderFails("{{ 'a' + 1 }}");

        Assert.Contains("can only concatenate str", e.Reason, StringComparison.Ordinal);
        Assert.Equal((1, 8), (e.Line, e.Column));
    }

    [Fact]
    public void Raise_exception_carries_the_template_message()
    {
        TemplateException e = RenderFails("{% if true %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}");

        Assert.True(e.RaisedByTemplate);
        Assert.Equal("Conversation roles must alternate", e.Reason);
    }

    [Theory]
    [InlineData("{{ [1].append(2) }}", "unsafe")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "non-namespace")]
    [InlineData("{{ 1 // 0 }}", "division or modulo by zero")]
    [InlineData("{{ 9223372036854775807 + 1 }}", "overflow")]
    [InlineData("{{ undefined_function() }}", "'undefined_function' is undefined")]
    [InlineData("{{ 'abc'(1) }}", "not callable")]
    [InlineData("{% for a, b in [1] %}{% endfor %}", "not iterable")]
    public void Runtime_errors_are_template_exceptions(string template, string reason)
    {
        Assert.Contains(reason, RenderFails(template).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Ranges_beyond_the_sandbox_limit_are_refused()
    {
        Assert.Contains("Range too big", RenderFails("{% for i in range(1000000) %}{% endfor %}").Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Step_budget_stops_long_renders()
    {
        var options = new JinjaOptions { MaxSteps = 100_000 };

        TemplateException e = RenderFails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", options: options);

        Assert.Contains("evaluation steps", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Unbounded_macro_recursion_is_stopped()
    {
        TemplateException e = RenderFails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");

        Assert.Contains("nested deeper", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Deeply_nested_source_is_refused_by_the_parser()
    {
        string parens = "{{ " + new string('(', 500) + "1" + new string(')', 500) + " }}";
        string blocks = string.Concat(Enumerable.Repeat("{% if true %}", 500)) + string.Concat(Enumerable.Repeat("{% endif %}", 500));

        Assert.Contains("nesting", Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(parens)).Reason, StringComparison.Ordinal);
        Assert.Contains("nesting", Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(blocks)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_strings_and_lists_are_capped()
    {
        Assert.Contains(
            "exceeds the limit",
            RenderFails("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}", options: new JinjaOptions { MaxOutputLength = 100_000 }).Reason,
            StringComparison.Ordinal);
        Assert.Contains("would exceed", RenderFails("{{ 'x' * 100000000 }}").Reason, StringComparison.Ordinal);
        Assert.Contains(
            "would exceed",
            RenderFails("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}").Reason,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Json_numbers_keep_python_int_and_float_types()
    {
        using JsonDocument doc = JsonDocument.Parse("""{"a": 3, "b": 3.0, "c": 5e-1, "d": [1, 2.50]}""");
        var values = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => TemplateValues.FromJson(p.Value));

        Assert.Equal(
            "3 3.0 4 0.5 True [1, 2.5]",
            JinjaTemplate.Parse("{{ a }} {{ b }} {{ a + 1 }} {{ c }} {{ a is integer }} {{ d }}").Render(values));
    }

    [Fact]
    public void Strftime_now_uses_the_configured_clock()
    {
        var options = new JinjaOptions { TimeProvider = new FixedClock(new DateTimeOffset(2025, 3, 5, 14, 7, 9, TimeSpan.Zero)) };

        Assert.Equal("05 Mar 2025|Wednesday March 064 14:07:09 PM 02 25 03", Render("{{ strftime_now('%d %b %Y|%A %B %j %H:%M:%S %p %I %y %m') }}", options: options));
    }

    [Fact]
    public void Macros_take_defaults_keywords_and_recurse()
    {
        Assert.Equal(
            "<a!><b?>321",
            Render("{% macro t(x, p='!') %}<{{ x }}{{ p }}>{% endmacro %}{% macro c(n) %}{% if n %}{{ n }}{{ c(n - 1) }}{% endif %}{% endmacro %}{{ t('a') }}{{ t(p='?', x='b') }}{{ c(3) }}"));
    }

    [Fact]
    public void A_parsed_template_renders_concurrently()
    {
        JinjaTemplate template = JinjaTemplate.Parse("{% set ns = namespace(t=0) %}{% for i in l %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}");

        Parallel.For(0, 64, i =>
        {
            var values = new Dictionary<string, object?> { ["l"] = Enumerable.Range(0, i).ToList() };
            Assert.Equal((i * (i - 1) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), template.Render(values));
        });
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
