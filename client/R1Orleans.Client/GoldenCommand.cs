using System.CommandLine;
using System.Globalization;
using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Model;

namespace R1Orleans.Client;

/// <summary>`r1 golden DIR...`: checks golden case directories (or a directory of them) and exits non-zero on any failure.</summary>
public static class GoldenCommand
{
    public static Command Create()
    {
        var dirs = new Argument<string[]>("case-dir")
        {
            Description = "A golden case directory (config.json, safetensors, golden.safetensors), or a directory of them",
            Arity = ArgumentArity.OneOrMore,
        };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: all cores)" };
        var speculative = new Option<string?>("--speculative") { Description = "Run the greedy check with speculative decoding: mtp" };
        speculative.AcceptOnlyFromAmong("mtp");
        var allowNonfinite = new Option<bool>("--allow-nonfinite-weights") { Description = "Check a checkpoint whose weights hold NaN or ±Inf instead of refusing it" };
        var device = new Option<string>("--device") { Description = "Where the math runs: cpu (default) or cuda:N", DefaultValueFactory = _ => "cpu" };
        var command = new Command("golden", "Check the engine against outputs Hugging Face transformers computed") { dirs, threads, speculative, allowNonfinite, device };
        command.SetAction(parse => Run(parse.GetValue(dirs)!, parse.GetValue(threads), parse.GetValue(speculative) == "mtp", parse.GetValue(allowNonfinite), parse.GetValue(device)));
        return command;
    }

    /// <summary>
    /// Checks the cases; 0 when all pass, 1 when any fails, 2 when nothing could be checked (a missing directory, a
    /// device that cannot be opened: messages on <paramref name="error"/>, standard error by default).
    /// </summary>
    public static int Run(IEnumerable<string> dirs, int? threads, bool speculativeMtp = false, bool allowNonfiniteWeights = false, string? device = null, TextWriter? error = null)
    {
        error ??= Console.Error;
        if (!ComputeDevice.TryParse(device, out ComputeDevice where))
        {
            error.WriteLine($"error: --device '{device}' is not {ComputeDevice.Forms}");
            return 2;
        }

        // The device first: a machine without a GPU fails here within a second, before any case is read.
        IComputeBackend backend;
        try
        {
            backend = BackendFactory.Create(where, threads);
        }
        catch (Exception e) when (BackendFactory.IsDeviceFailure(e))
        {
            error.WriteLine($"error: --device {where}: {e.Message}");
            return 2;
        }

        try
        {
            return Run(dirs, backend, speculativeMtp, allowNonfiniteWeights, error);
        }
        finally
        {
            (backend as IDisposable)?.Dispose();
        }
    }

    private static int Run(IEnumerable<string> dirs, IComputeBackend backend, bool speculativeMtp, bool allowNonfiniteWeights, TextWriter error)
    {
        ModelAcceleratorFactory? accelerator = null;
        if (backend is CudaBackend cuda)
        {
            accelerator = DeviceModelAccelerator.For(cuda);
            Console.WriteLine($"device: {cuda.Name}; {DeviceModelAccelerator.ModeDescription()}{(accelerator is null ? string.Empty : "; MTP op by op")}");
        }

        var cases = new List<string>();
        foreach (string d in dirs)
        {
            if (!Directory.Exists(d))
            {
                error.WriteLine($"error: {d} does not exist");
                return 2;
            }

            if (GoldenCase.IsModelCase(d) || GoldenTokenizerChecker.IsTokenizerCase(d))
            {
                cases.Add(d);
            }
            else
            {
                var inner = Directory.GetDirectories(d).Where(x => GoldenCase.IsModelCase(x) || GoldenTokenizerChecker.IsTokenizerCase(x)).Order(StringComparer.Ordinal).ToList();
                if (inner.Count == 0)
                {
                    error.WriteLine($"error: {d} is neither a golden model case (config.json and {GoldenCase.FileName}) nor a tokenizer case (tokenizer.json and golden.json), and holds none");
                    return 2;
                }

                cases.AddRange(inner);
            }
        }

        bool allPassed = true;
        var table = new List<string[]>();
        var tokenizerTable = new List<string[]>();
        foreach (string dir in cases.Where(GoldenTokenizerChecker.IsTokenizerCase))
        {
            try
            {
                GoldenTokenizerReport r = GoldenTokenizerChecker.Check(dir);
                tokenizerTable.Add([r.Case, r.Probes.ToString(CultureInfo.InvariantCulture), r.Chats.ToString(CultureInfo.InvariantCulture), r.Mismatches.Count.ToString(CultureInfo.InvariantCulture), r.Passed ? "pass" : "FAIL"]);
                foreach (string m in r.Mismatches.Take(20))
                {
                    error.WriteLine($"  {r.Case}: {m}");
                }

                allPassed &= r.Passed;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or NotSupportedException or System.Text.Json.JsonException or Text.Chat.TemplateException)
            {
                tokenizerTable.Add([Path.GetFileName(dir), "-", "-", "-", "ERROR"]);
                error.WriteLine($"error: {dir}: {e.Message}");
                allPassed = false;
            }
        }

        foreach (string dir in cases.Where(GoldenCase.IsModelCase))
        {
            try
            {
                GoldenReport report = GoldenChecker.Check(dir, backend, msg => error.WriteLine($"  {msg}"), speculativeMtp, allowNonfiniteWeights: allowNonfiniteWeights, accelerator: accelerator);
                if (report.MtpAcceptanceRate is double rate)
                {
                    Console.WriteLine($"{report.Case}: MTP acceptance rate {rate:P1}");
                }

                foreach (GoldenPromptResult p in report.Prompts)
                {
                    table.Add(
                    [
                        report.Case, $"{p.Prompt} ({p.Tokens} tok)", Fmt(p.LogitRelError), $"{p.RoutingMismatches}/{p.RoutedDecisions}",
                        Fmt(p.RoutingWeightError), $"{p.GreedyMismatches}/{p.GreedyTokens}", p.MtpRelError is double m ? Fmt(m) : "-",
                        p.Passed ? "pass" : "FAIL",
                    ]);
                }

                allPassed &= report.Passed;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or Checkpoint.CheckpointFormatException or Checkpoint.ConfigException)
            {
                table.Add([Path.GetFileName(dir), "-", "-", "-", "-", "-", "-", "ERROR"]);
                error.WriteLine($"error: {dir}: {e.Message}");
                allPassed = false;
            }
        }

        if (tokenizerTable.Count > 0)
        {
            TextTable.Write(Console.Out, ["tokenizer case", "probes", "chats", "mismatches", "result"], tokenizerTable);
            Console.WriteLine();
        }

        TextTable.Write(Console.Out, ["case", "prompt", "logit rel err", "routing mism.", "weight err", "greedy mism.", "MTP rel err", "result"], table);
        Console.WriteLine(allPassed ? $"all {cases.Count} cases pass (tolerance: logits {GoldenTolerance.Logits:0e0}, weights {GoldenTolerance.RoutingWeight:0e0}, routing and greedy exact)" : "FAILED");
        return allPassed ? 0 : 1;
    }

    private static string Fmt(double v) => v.ToString("0.00e+0", CultureInfo.InvariantCulture);
}
