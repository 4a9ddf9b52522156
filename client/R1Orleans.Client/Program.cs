using System.CommandLine;
using R1Orleans.Client;
using R1Orleans.Client.Http;

var root = new RootCommand("R1Orleans client: conformance checks and benchmarks of the DeepSeek-V3 engine");
root.Subcommands.Add(GoldenCommand.Create());
root.Subcommands.Add(EngineBenchCommand.Create());
root.Subcommands.Add(ChatCommand.Create());
root.Subcommands.Add(CompleteCommand.Create());
root.Subcommands.Add(ModelsCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(ClusterCommand.Create());
root.Subcommands.Add(ClusterCommand.CreateExperts());
return await root.Parse(args).InvokeAsync();
