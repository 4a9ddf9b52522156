using System.CommandLine;
using R1Orleans.Client;

var root = new RootCommand("R1Orleans client: conformance checks and benchmarks of the DeepSeek-V3 engine");
root.Subcommands.Add(GoldenCommand.Create());
root.Subcommands.Add(EngineBenchCommand.Create());
return await root.Parse(args).InvokeAsync();
