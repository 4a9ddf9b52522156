using System.Reflection;

namespace R1Orleans.Silo.Startup;

/// <summary>
/// Rejects command lines the configuration binder would silently ignore: an unknown switch (<c>--kv-cache-token</c>),
/// an unknown key of a section the silo owns (<c>--Model:KvCacheToken</c>), a stray argument. Each error names the
/// closest valid switch. Free-form sections (Logging, Kestrel) pass through as ASP.NET Core reads them.
/// </summary>
public sealed class CommandLineCheck
{
    private readonly IReadOnlyDictionary<string, string> _switches;
    private readonly IReadOnlySet<string> _flags;
    private readonly IReadOnlyDictionary<string, Type> _sections;

    /// <param name="switches">Short switches and the configuration keys they set.</param>
    /// <param name="flags">Switches that may stand without a value.</param>
    /// <param name="sections">Configuration sections the silo binds to an options type; their keys are checked.</param>
    public CommandLineCheck(IReadOnlyDictionary<string, string> switches, IEnumerable<string> flags, IReadOnlyDictionary<string, Type> sections)
    {
        _switches = switches ?? throw new ArgumentNullException(nameof(switches));
        _flags = new HashSet<string>(flags ?? throw new ArgumentNullException(nameof(flags)), StringComparer.Ordinal);
        _sections = sections ?? throw new ArgumentNullException(nameof(sections));
    }

    /// <summary>Switches ASP.NET Core's host reads itself.</summary>
    public static readonly IReadOnlyList<string> HostSwitches = ["--urls", "--environment"];

    /// <summary>Sections passed to ASP.NET Core as they are (their keys are not the silo's to check).</summary>
    public static readonly IReadOnlyList<string> FreeSections = ["Logging", "Kestrel"];

    /// <summary>Every problem with the command line; empty when it is fine.</summary>
    public IReadOnlyList<string> Problems(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var problems = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                problems.Add($"unexpected argument '{arg}': options start with -- (r1-silo --help lists them)");
                continue;
            }

            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            string name = equals >= 0 ? arg[..equals] : arg;
            bool hasValue = equals >= 0 || (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal));
            if (equals < 0 && hasValue)
            {
                i++; // the value
            }

            if (Problem(name) is { } problem)
            {
                problems.Add(problem);
            }
            else if (!hasValue && !_flags.Contains(name))
            {
                problems.Add($"option '{name}' needs a value");
            }
        }

        return problems;
    }

    private string? Problem(string name)
    {
        if (_switches.ContainsKey(name) || HostSwitches.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            return null;
        }

        string key = name[2..];
        int colon = key.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0)
        {
            string section = key[..colon];
            string rest = key[(colon + 1)..];
            if (FreeSections.Contains(section, StringComparer.OrdinalIgnoreCase))
            {
                return null;
            }

            if (_sections.FirstOrDefault(s => string.Equals(s.Key, section, StringComparison.OrdinalIgnoreCase)) is { Value: { } type } known)
            {
                string[] keys = [.. SettableProperties(type).Select(p => p.Name)];
                string property = rest.Split(':')[0];
                if (keys.Contains(property, StringComparer.OrdinalIgnoreCase))
                {
                    return null;
                }

                return Unknown(name, keys.Select(k => $"--{known.Key}:{k}").Concat(_switches.Where(s => s.Value.StartsWith(known.Key + ":", StringComparison.Ordinal)).Select(s => s.Key)));
            }
        }

        return Unknown(name, AllNames());
    }

    private IEnumerable<string> AllNames() =>
        _switches.Keys
            .Concat(HostSwitches)
            .Concat(_sections.SelectMany(s => SettableProperties(s.Value).Select(p => $"--{s.Key}:{p.Name}")));

    private static string Unknown(string name, IEnumerable<string> candidates) =>
        ClosestName.Find(name, candidates) is { } closest
            ? $"unknown option '{name}'; did you mean '{closest}'?"
            : $"unknown option '{name}'";

    /// <summary>The properties a configuration section binds (public, settable).</summary>
    public static IEnumerable<PropertyInfo> SettableProperties(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.SetMethod!.IsPublic);
    }
}
