using System.Text.Json;
using R1Orleans.Text.Chat;

namespace R1Orleans.Text.Tests.Chat;

/// <summary>
/// The interpreter against Python Jinja2 itself: each template below was rendered by Jinja2 3.1 configured as Hugging
/// Face's <c>apply_chat_template</c> configures it, with the variables of <see cref="Variables"/>, and the output
/// pasted here. Templates Jinja2 rejects must be rejected with a positioned <see cref="TemplateException"/>.
/// </summary>
public sealed class JinjaConformanceTests
{
    private const string VariablesJson = """
        {
          "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "<think>\nhm\n</think>\n\nHello"}
          ],
          "d": {"b": 1, "a": [1, 2.5, null, true], "s": "x\"y\n\u00e9"},
          "n": 5,
          "s": "  Hello World  ",
          "l": [3, 1, 2],
          "e": [],
          "u": "\ud83d\ude00ab"
        }
        """;

    private static readonly Dictionary<string, object?> Variables = LoadVariables();

    // Expected renderings were produced by Python Jinja2 3.1 in Hugging Face's configuration
    // (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, HF's tojson).
    public static TheoryData<string, string> Renderings => new()
    {
        { "{{ 1 + 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 1 / 2 }}|{{ 4 / 2 }}|{{ 2 * 3.5 }}|{{ 10 - 2.5 }}", "3|3|-4|1|2|1024|0.5|2.0|7.0|7.5" },
        { "{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1.5e-5 }}|{{ 123456789.125 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.0001 }}|{{ -0.0 }}|{{ 3.0 }}", "0.30000000000000004|1e+20|1.5e-05|123456789.125|1e+16|1000000000000000.0|0.0001|-0.0|3.0" },
        { "{{ 'a' ~ 1 ~ none ~ true ~ x }}|{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ [1, 2] + [3] }}", "a1NoneTrue|ababab|[1, 1]|[1, 2, 3]" },
        { "{{ [1, 'a', none, true, 2.5, [ ], {'k': 'v'}] }}|{{ (1,) }}|{{ (1, 'b') }}|{{ {'a': 1, 'b': 'it\\'s'} }}|{{ \"q'\" }}", "[1, 'a', None, True, 2.5, [], {'k': 'v'}]|(1,)|(1, 'b')|{'a': 1, 'b': \"it's\"}|q'" },
        { "{{ none }}|{{ true }}|{{ false }}|{{ missing }}|{{ missing is defined }}|{{ missing is undefined }}|{{ none is none }}|{{ n is not none }}", "None|True|False||False|True|True|True" },
        { "{{ 'x' if n > 3 else 'y' }}|{{ 'x' if n > 10 }}|{{ n > 3 and n < 10 }}|{{ 0 or 'fallback' }}|{{ 'a' and 'b' }}|{{ not n }}|{{ 1 < n <= 5 }}", "x||True|fallback|b|False|True" },
        { "{{ 'ell' in s }}|{{ 2 in l }}|{{ 4 not in l }}|{{ 'a' in d }}|{{ 'zz' in d }}|{{ 'a' in missing }}", "True|True|True|True|False|False" },
        { "{{ 1 == 1.0 }}|{{ true == 1 }}|{{ '1' == 1 }}|{{ [1, 2] == [1, 2] }}|{{ none == missing }}|{{ 'abc' < 'abd' }}|{{ [1, 2] < [1, 3] }}", "True|True|False|True|False|True|True" },
        { "{{ s|trim }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ s|trim|length }}|{{ s|upper }}|{{ s|lower }}", "Hello World|Hello World|Hello World  |  Hello World|hi|11|  HELLO WORLD  |  hello world  " },
        { "{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'x</think>y</think>z'.split('</think>')[-1] }}", "['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a,b', 'c']|z" },
        { "{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.rfind('c') }}|{{ 'abcabc'.count('bc') }}", "Hello World|Hello|True|True|bba|2|5|2" },
        { "{{ 'abcdef'[1:3] }}|{{ 'abcdef'[::-1] }}|{{ 'abcdef'[-2:] }}|{{ l[1:] }}|{{ l[::2] }}|{{ l[-1] }}|{{ l[10] is defined }}|{{ 'abc'[0] }}|{{ u[0] }}|{{ u|length }}|{{ u[1:] }}", "bc|fedcba|ef|[1, 2]|[3, 2]|2|False|a|😀|3|ab" },
        { "{{ d.a }}|{{ d['b'] }}|{{ d.zz is defined }}|{{ d['zz'] }}|{{ d.get('zz', 'def') }}|{{ d.get('b') }}|{{ d|length }}|{{ d.keys()|list }}|{{ d.items()|list }}", "[1, 2.5, None, True]|1|False||def|1|3|['b', 'a', 's']|[('b', 1), ('a', [1, 2.5, None, True]), ('s', 'x\"y\\né')]" },
        { "{{ d|tojson }}|{{ d.a|tojson }}|{{ 'é'|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ [1, [2, {}]]|tojson(indent=1) }}", "{\"b\": 1, \"a\": [1, 2.5, null, true], \"s\": \"x\\\"y\\né\"}|[1, 2.5, null, true]|\"é\"|{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"s\": \"x\\\"y\\né\"\n}|{\"a\": [1, 2.5, null, true], \"b\": 1, \"s\": \"x\\\"y\\né\"}|[\n 1,\n [\n  2,\n  {}\n ]\n]" },
        { "{{ l|sort }}|{{ l|sort(reverse=true) }}|{{ l|first }}|{{ l|last }}|{{ l|join('-') }}|{{ l|sum }}|{{ l|max }}|{{ l|min }}|{{ l|reverse|list }}|{{ e|first is defined }}", "[1, 2, 3]|[3, 2, 1]|3|2|3-1-2|6|3|1|[2, 1, 3]|False" },
        { "{{ ['b', 'A', 'c']|sort }}|{{ ['b', 'A', 'c']|sort(case_sensitive=true) }}|{{ [1, 2, 1, 3]|unique|list }}|{{ 'abc'|list }}|{{ {'b': 1, 'a': 2}|dictsort }}", "['A', 'b', 'c']|['A', 'b', 'c']|[1, 2, 3]|['a', 'b', 'c']|[('a', 2), ('b', 1)]" },
        { "{{ messages|map(attribute='role')|join(',') }}|{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ messages|rejectattr('role', 'eq', 'user')|map(attribute='content')|list }}|{{ l|select('odd')|list }}|{{ l|map('string')|join }}", "system,user,assistant|1|['Be brief.', '<think>\\nhm\\n</think>\\n\\nHello']|[3, 1]|312" },
        { "{{ missing|default('dflt') }}|{{ ''|default('dflt') }}|{{ ''|default('dflt', true) }}|{{ none|d('x', true) }}|{{ missing|length }}|{{ missing|string }}|{{ none|string }}", "dflt||dflt|x|0||None" },
        { "{{ '42'|int + 1 }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(7) }}|{{ 3.9|int }}|{{ '2.5'|float }}|{{ 7|float }}|{{ -3|abs }}|{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ 2.4|round(0, 'ceil') }}", "43|4|0|7|3|2.5|7.0|3|2.57|2.0|3.0" },
        { "{{ 'a\nb\n\nc'|indent }}|{{ 'a\nb'|indent(2, true) }}|{{ 'one two  three'|wordcount }}|{{ '<a href=\"x\">&</a>'|e }}|{{ 'abc'|center(9) }}|{{ 'hi %s, %d!'|format('bob', 3) }}|{{ '%05.1f|%-4s|%x' % (3.14159, 'ab', 255) }}", "a\n    b\n\n    c|  a\n  b|3|&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;|   abc   |hi bob, 3!|003.1|ab  |ff" },
        { "{{ '{} and {}'.format('a', 'b') }}|{{ '{0}{1}{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='n') }}|{{ ', '.join(['a', 'b']) }}|{{ 'ab'.upper() }}|{{ 'AB'.lower() }}", "a and b|xyx|n!|a, b|AB|ab" },
        { "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.cycle('a', 'b') }};{% endfor %}", "1032TrueFalse3a;2121FalseFalse3b;3210FalseTrue3a;" },
        { "{% for m in messages %}[{{ loop.previtem.role if loop.previtem is defined else '-' }}>{{ m.role }}>{{ loop.nextitem.role if not loop.last else '-' }}]{% endfor %}", "[->system>user][system>user>assistant][user>assistant>-]" },
        { "{% for x in l if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in e %}{{ x }}{% else %}empty{% endfor %}|{% for x in missing %}{{ x }}{% else %}undef{% endfor %}", "3:1/2 2:2/2 |empty|undef" },
        { "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}|{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}", "b=1;a=[1, 2.5, None, True];s=x\"y\né;|bas|a.b.|37" },
        { "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 6 %}{% break %}{% endif %}{{ i }}{% endfor %}|{{ range(3)|list }}|{{ range(1, 10, 3)|list }}|{{ range(5, 0, -2)|list }}", "01345|[0, 1, 2]|[1, 4, 7]|[5, 3, 1]" },
        { "{% set x = 1 %}{% for i in l %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}|{% set ns = namespace(t=0) %}{% for i in l %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}", "423|1|6" },
        { "{% set ns = namespace(a=1, b='x') %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}{% set ns.c = [1] %}{{ ns.c }}{% if true %}{% set y = 5 %}{% endif %}{{ y }}", "1xFalse[1]5" },
        { "{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t = (1, 2) %}{{ t }}|{% set s2 %}captured {{ n }}{% endset %}[{{ s2 }}]|{% set s3 | upper %}up{% endset %}{{ s3 }}", "12|(1, 2)|[captured 5]|UP" },
        { "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }}|{{ greet('b', '?') }}|{{ greet(name='c', punct='.') }}|{{ greet() }}", "Hi a!|Hi b?|Hi c.|Hi !" },
        { "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}", "4321" },
        { "{% filter upper %}abc {{ n }}{% endfilter %}|{% with a = 3, b = 4 %}{{ a * b }}{% endwith %}|{{ a is defined }}|{% raw %}{{ not rendered }}{% endraw %}", "ABC 5|12|False|{{ not rendered }}" },
        { "  {% if true %}\n    text\n  {% endif %}\nend", "    text\nend" },
        { "a  {%- if true -%}  b  {%- endif -%}  c\n{{- '  d  ' -}}\n  e", "abc  d  e" },
        { "line1\n{# comment #}\nline2\n  {#- c2 -#}  \nline3\n", "line1\nline2line3" },
        { "{%+ if true %}x{% endif %}\n  {%+ if true %}y{% endif %}\n  {{ 'z' }}\n", "x  y  z" },
        { "{% if n == 1 %}one{% elif n == 5 %}five{% elif n == 6 %}six{% else %}other{% endif %}|{% if missing %}a{% else %}b{% endif %}|{% if e %}a{% elif d %}b{% endif %}", "five|b|b" },
        { "{{ 'a\\tb\\\\c\\x41\\u00e9\\101' }}|{{ \"dq\\\"x\" }}|{{ 'adj' 'acent' }}|{{ 'multi\nline' }}", "a\tb\\cAéA|dq\"x|adjacent|multi\nline" },
        { "{{ 'abc' is string }}{{ 1 is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ d is mapping }}{{ l is iterable }}{{ l is sequence }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ range is callable }}{{ 2 is in l }}{{ 3 is gt 2 }}{{ 3 is eq 3 }}", "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrue" },
        { "{{ messages[0]['content'] }}|{{ messages[-1].content.split('</think>')[-1].strip() }}|{{ messages|length }}|{{ messages[1:]|map(attribute='role')|list }}", "Be brief.|Hello|3|['user', 'assistant']" },
        { "{% for m in messages %}{% if m['role'] == 'assistant' %}{% set c = m['content'] %}{% if '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}{{ c|trim }}{% endif %}{% endfor %}", "Hello" },
        { "{{ d.a.0 }}|{{ d['a'][1] }}|{{ d.s|length }}|{{ d.s|tojson }}|{{ (d.a|first) + 1 }}|{{ -n }}|{{ +n }}|{{ -(n + 1) }}|{{ -n|abs }}", "1|2.5|5|\"x\\\"y\\né\"|2|-5|5|-6|5" },
        { "{{ messages[0]|tojson }}|{{ messages|tojson|length }}|{{ {'k': none, 'f': 1.0, 'i': -2}|tojson }}|{{ 'a\\u2028b\\x01'|tojson }}|{{ ('t', 1)|tojson }}|{{ d|tojson(separators=(',', ':')) }}", "{\"role\": \"system\", \"content\": \"Be brief.\"}|147|{\"k\": null, \"f\": 1.0, \"i\": -2}|\"a\u2028b\\u0001\"|[\"t\", 1]|{\"b\":1,\"a\":[1,2.5,null,true],\"s\":\"x\\\"y\\né\"}" },
        { "{{ 'x'.join(['1','2']) }}|{{ 'a b'.split(' ') }}|{{ 'A-B'.lower().replace('-', '_') }}|{{ 'abc'.upper()[1:] }}|{{ '  x'.lstrip() ~ '|' }}|{{ 'é'.nosuchmethod is defined }}", "1x2|['a', 'b']|a_b|BC|x||False" },
        { "{{ l|map('abs')|list }}|{{ [[1, 2], [3]]|map('length')|list }}|{{ [{'a': {'b': 1}}, {'a': {'b': 2}}]|map(attribute='a.b')|list }}|{{ [{'x': 1}, {}]|map(attribute='x', default=0)|list }}|{{ ['a', 'b']|map('upper')|join }}", "[3, 1, 2]|[2, 1]|[1, 2]|[1, 0]|AB" },
        { "{{ [1, 2, 3]|selectattr('real') is defined }}|{{ [0, 1, '', 'a', none]|select|list }}|{{ [0, 1, '', 'a', none]|reject|list }}|{{ l|reject('odd')|list }}", "True|[1, 'a']|[0, '', None]|[2]" },
        { "{% for i in range(3) %}{% for j in range(2) %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}", "121|122|123|" },
        { "{{ n ~ '' }}|{{ 5.0|string }}|{{ 10 ** -1 }}|{{ 2 ** 0.5 }}|{{ 7 / 7 }}|{{ 9007199254740993 }}|{{ 1_000 }}|{{ 0x1F }}", "5|5.0|0.1|1.4142135623730951|1.0|9007199254740993|1000|31" },
        { "{{ [3, 1]|sort|first }}|{{ ['b', 'a']|sort|join }}|{{ [{'n': 2}, {'n': 1}]|sort(attribute='n')|map(attribute='n')|join }}|{{ [1, 2]|sum(start=10) }}", "1|ab|12|13" },
        { "{{ [1, 2]|select('odd')|list }}|{{ 'yes' if ([]|select) else 'no' }}|{% set g = [1, 2]|map('string') %}{{ g|join }}{{ g|join }}|{{ 0|select|list }}|{{ [3, 1, 3]|unique|list }}|{{ [1, 2]|reverse|list }}", "[1]|yes|12|[]|[3, 1]|[2, 1]" },
        { "{{ 'hello-world (x) {y}'|title }}|{{ 'hello-world'.title() }}|{{ 1.5 is odd }}|{{ 4.0 is even }}|{{ 6 is divisibleby 3.0 }}|{{ missing is callable }}", "Hello-World (X) {Y}|Hello-World|False|True|True|True" },
        { "{{ 'abc' % missing }}|{{ 'a %s' % [1] }}|{{ 15|round(-1) }}|{{ 25|round(-1) }}|{{ 3|round }}|{{ varargs is defined }}", "abc|a [1]|20|20|3|False" },
    };

    // Templates that Jinja2 rejects (syntax, unknown filter/test/tag, type errors, undefined access, sandbox).
    public static TheoryData<string> Failures => new()
    {
        "{{ foo( }}", // Jinja2: TemplateSyntaxError: unexpected '}', expected ')'
        "{% if true %}unclosed", // Jinja2: TemplateSyntaxError: Unexpected end of template. Jinja was looking for the following tags:
        "{% for x in l %}{% endif %}", // Jinja2: TemplateSyntaxError: Encountered unknown tag 'endif'. Jinja was looking for the following 
        "{{ 'a' + 1 }}", // Jinja2: TypeError: can only concatenate str (not "int") to str
        "{{ missing.attr }}", // Jinja2: UndefinedError: 'missing' is undefined
        "{{ d.zz.yy }}", // Jinja2: UndefinedError: 'dict object' has no attribute 'zz'
        "{{ 1 / 0 }}", // Jinja2: ZeroDivisionError: division by zero
        "{% set l2 = [1] %}{{ l2.append(2) }}", // Jinja2: SecurityError: access to attribute 'append' of 'list' object is unsafe.
        "{{ raise_exception('custom failure') }}", // Jinja2: TemplateError: custom failure
        "{{ n|nosuchfilter }}", // Jinja2: TemplateAssertionError: No filter named 'nosuchfilter'.
        "{{ n is nosuchtest }}", // Jinja2: TemplateAssertionError: No test named 'nosuchtest'.
        "{% nosuchtag %}", // Jinja2: TemplateSyntaxError: Encountered unknown tag 'nosuchtag'.
        "{{ 'unterminated }}", // Jinja2: TemplateSyntaxError: unexpected char "'" at 3
        "{% set x = 1 %}{% set x.y = 2 %}", // Jinja2: TemplateRuntimeError: cannot assign attribute on non-namespace object
        "{% break %}", // Jinja2: SyntaxError: 'break' outside loop (<template>, line 11)
        "{{ 'abc' % 5 }}", // Jinja2: TypeError: not all arguments converted during string formatting
        "{{ missing|int }}", // Jinja2: UndefinedError: 'missing' is undefined
        "{{ [1, 'a']|sort }}", // Jinja2: TypeError: '<' not supported between instances of 'str' and 'int'
        "{{ {'a': 1} in {'a': 1} }}", // Jinja2: TypeError: unhashable type: 'dict'
        "{{ [1]|map('string')|last }}", // Jinja2: TypeError: 'generator' object is not reversible
        "{{ x is defined(1) }}", // Jinja2: TypeError: test_defined() takes 1 positional argument but 2 were given
        "{{ 'a'|upper(1) }}", // Jinja2: TypeError: do_upper() takes 1 positional argument but 2 were given
        "{{ [1]|map('string')|length }}", // Jinja2: TypeError: object of type 'generator' has no len()
    };

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Renders_like_Jinja2(string template, string expected)
    {
        Assert.Equal(expected, JinjaTemplate.Parse(template).Render(Variables));
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public void Rejects_what_Jinja2_rejects(string template)
    {
        TemplateException e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(template).Render(Variables));
        Assert.True(e.Line >= 1 && e.Column >= 1, $"no position in: {e.Message}");
    }

    private static Dictionary<string, object?> LoadVariables()
    {
        using JsonDocument doc = JsonDocument.Parse(VariablesJson);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => TemplateValues.FromJson(p.Value));
    }
}
