using System.ComponentModel;
using System.Globalization;
using System.Reflection;

namespace R1Orleans.Silo.Startup;

/// <summary>
/// Checks, before anything binds them, that the configured values of the silo's option sections convert to their
/// property types (<c>--kv-cache-tokens abc</c> is an error that names the setting, its switch and what it expects,
/// instead of the binder's exception at first use), from every configuration source.
/// </summary>
public static class SettingValues
{
    /// <summary>Every value in <paramref name="sections"/> that does not convert; <paramref name="switches"/> names the short switch of a key.</summary>
    public static IReadOnlyList<string> Problems(IConfiguration configuration, IReadOnlyDictionary<string, Type> sections, IReadOnlyDictionary<string, string> switches)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(sections);
        ArgumentNullException.ThrowIfNull(switches);
        var problems = new List<string>();
        foreach ((string section, Type type) in sections)
        {
            foreach (PropertyInfo property in CommandLineCheck.SettableProperties(type))
            {
                string key = $"{section}:{property.Name}";
                if (configuration[key] is not { } value)
                {
                    continue;
                }

                Type target = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                if (target == typeof(string) || Converts(target, value))
                {
                    continue;
                }

                string? shortSwitch = switches.FirstOrDefault(s => string.Equals(s.Value, key, StringComparison.OrdinalIgnoreCase)).Key;
                string name = shortSwitch is null ? key : $"{key} ({shortSwitch})";
                problems.Add($"{name} is '{value}'; expected {Expected(target)}");
            }
        }

        return problems;
    }

    private static bool Converts(Type target, string value)
    {
        if (target.IsArray)
        {
            return true; // bound from child keys (Section:Key:0 ...), each a string here
        }

        try
        {
            TypeConverter converter = TypeDescriptor.GetConverter(target);
            return converter.CanConvertFrom(typeof(string)) && converter.ConvertFromString(null, CultureInfo.InvariantCulture, value) is not null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException)
        {
            return false;
        }
    }

    private static string Expected(Type target) =>
        target == typeof(bool) ? "true or false"
        : target == typeof(int) ? "a whole number (32-bit)"
        : target == typeof(long) ? "a whole number"
        : target == typeof(double) || target == typeof(float) ? "a number"
        : target.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(target))}"
        : $"a {target.Name}";
}
