using System.CommandLine;
using R1Orleans.Client;
using R1Orleans.Client.Chaos;
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
root.Subcommands.Add(ChaosCommand.Create());

// Ctrl+C cancels the command and waits for it to stop what it started (r1 chaos stops its silos and redis-server).
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });
