using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace R1Orleans.Silo.Startup;

/// <summary>
/// Turns whatever stops the silo from starting into one clear message and an exit code: 2 for settings the operator
/// must change (a bad switch or value, a port in use), 1 for anything else (the model failed to load, the runtime
/// failed). Never a stack trace: the message chain says what went wrong.
/// </summary>
public static class StartupFailure
{
    public const int BadSettings = 2;

    public const int Failed = 1;

    /// <summary>The exit code and the lines to print for <paramref name="e"/>.</summary>
    public static (int ExitCode, IReadOnlyList<string> Lines) Describe(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        switch (e)
        {
            case SettingsException s:
                return (BadSettings, Settings(s.Problems));
            case OptionsValidationException v:
                return (BadSettings, Settings([.. v.Failures]));
            case IOException io when io.InnerException is AddressInUseException || io.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase):
                return (BadSettings,
                [
                    $"r1-silo: the HTTP port is already in use ({io.Message.TrimEnd('.')}): another silo or program listens there;",
                    "  pick a free one with --urls http://127.0.0.1:PORT (a second silo beside the first also needs its own --silo-port and --gateway-port)",
                ]);
            case StartupException s:
                return (Failed, [$"r1-silo: {s.Message}"]);
            default:
                return (Failed, [$"r1-silo: failed to start: {Chain(e)}"]);
        }
    }

    private static List<string> Settings(IReadOnlyList<string> problems)
    {
        var lines = new List<string>(problems.Count + 2);
        if (problems.Count == 1)
        {
            lines.Add($"r1-silo: {problems[0]}");
        }
        else
        {
            lines.Add("r1-silo: invalid settings:");
            lines.AddRange(problems.Select(p => $"  {p}"));
        }

        lines.Add("Run r1-silo --help for the options.");
        return lines;
    }

    /// <summary>The messages of an exception and its inner exceptions, outermost first, without repeats.</summary>
    public static string Chain(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (!parts.Exists(p => p.Contains(x.Message, StringComparison.Ordinal)))
            {
                parts.Add(x.Message);
            }
        }

        return string.Join(": ", parts);
    }
}
