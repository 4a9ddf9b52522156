using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.TestingHost;
using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Grains.Cluster;
using R1Orleans.Tests.Shared;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// CLUSTER.md: a silo's death also deactivates the grains on survivors whose grain-directory registration it held. The
/// placement directory grain is one of them: this test kills the silo that holds its registration (found from Orleans'
/// own directory), and the grain comes back with its state — a committed placement over the survivors at a higher
/// epoch than any served before, rebuilt from the silos' joins — and a rank on a survivor still gives the single
/// process's bits.
/// </summary>
public sealed class DirectoryRegistrationLossTests
{
    [Fact]
    public async Task Killing_the_silo_holding_the_directory_grains_registration_brings_it_back_with_a_newer_placement_over_the_survivors()
    {
        string directory = Path.Combine(DistributedEqualsSingleProcessTests.RepositoryRoot, "models", "r1orleans-tiny");
        GoldenReport single = GoldenChecker.Check(directory, new CpuBackend(1));
        // Membership in a real Redis, not TestingHost's table on its primary silo: any silo may then be killed,
        // whichever holds the registration (moving the hash ring off the primary by adding silos left it there after
        // four more in one CI run).
        await using RedisServer redis = await RedisServer.StartAsync(appendOnly: false);
        var builder = new TestClusterBuilder(4);
        builder.Options.UseTestClusterMembership = false;
        builder.Properties[ClusterSiloConfigurator.ModelKey] = directory;
        builder.Properties[RedisMembershipConfigurator.RedisKey] = redis.Address;
        builder.AddSiloBuilderConfigurator<ClusterSiloConfigurator>();
        builder.AddSiloBuilderConfigurator<FastMembershipConfigurator>();
        builder.AddSiloBuilderConfigurator<RedisMembershipConfigurator>();
        builder.AddClientBuilderConfigurator<RedisMembershipConfigurator>();
        TestCluster cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            IPlacementDirectoryGrain grain = cluster.Client.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey);
            await WhenCommittedOver(cluster, cluster.Silos, TimeSpan.FromSeconds(60));
            PlacementSnapshot before = await grain.Snapshot();

            SiloAddress primary = RegistrationOwner(cluster.Silos[0], grain.GetGrainId());
            SiloHandle owner = cluster.Silos.Single(s => s.SiloAddress.Equals(primary));
            await cluster.KillSiloAsync(owner);
            SiloHandle[] survivors = [.. cluster.Silos.Where(s => s != owner)];
            await WhenCommittedOver(cluster, survivors, TimeSpan.FromSeconds(90));

            PlacementSnapshot after = await grain.Snapshot();
            Assert.NotNull(after.Committed);
            Assert.True(after.Committed.Epoch > before.Committed!.Epoch, $"epoch {after.Committed.Epoch} after, {before.Committed.Epoch} before");
            Assert.Equal(
                survivors.Select(s => s.SiloAddress.ToParsableString()).Order(StringComparer.Ordinal),
                after.Members.Select(m => m.Silo).Order(StringComparer.Ordinal));
            Assert.Equal(before.ModelHash, after.ModelHash);

            ClusterNode rank = Node(survivors[^1]);
            GoldenReport distributed = GoldenChecker.Check(directory, new CpuBackend(1), exchange: rank.RankExchange);
            DistributedEqualsSingleProcessTests.AssertSameBits(single.Trace!, distributed.Trace!, "after the directory grain's registration owner died");
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>Which silo holds a grain's directory registration, asked of Orleans' local grain directory on <paramref name="silo"/>.</summary>
    private static SiloAddress RegistrationOwner(SiloHandle silo, GrainId grain)
    {
        IServiceProvider services = ((InProcessSiloHandle)silo).SiloHost.Services;
        Type directoryType = typeof(IGrainFactory).Assembly.GetType("Orleans.Runtime.GrainDirectory.ILocalGrainDirectory")
            ?? Type.GetType("Orleans.Runtime.GrainDirectory.ILocalGrainDirectory, Orleans.Runtime")
            ?? throw new InvalidOperationException("Orleans' ILocalGrainDirectory type is not found");
        object directory = services.GetService(directoryType) ?? throw new InvalidOperationException("the silo has no local grain directory");
        MethodInfo method = directoryType.GetMethod("GetPrimaryForGrain", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new InvalidOperationException("ILocalGrainDirectory.GetPrimaryForGrain is not found");
        return (SiloAddress?)method.Invoke(directory, [grain]) ?? throw new InvalidOperationException("no silo holds the registration");
    }

    private static ClusterNode Node(SiloHandle s) => ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<ClusterNode>();

    /// <summary>Until every one of <paramref name="silos"/> runs with a committed placement over exactly them.</summary>
    private static async Task WhenCommittedOver(TestCluster cluster, IReadOnlyList<SiloHandle> silos, TimeSpan timeout)
    {
        string[] wanted = [.. silos.Select(s => s.SiloAddress.ToParsableString()).Order(StringComparer.Ordinal)];
        for (var deadline = DateTime.UtcNow + timeout; DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            if (silos.All(s => Node(s).View.Current is { } map && map.Members.Select(m => m.Silo.Value).Order(StringComparer.Ordinal).SequenceEqual(wanted)))
            {
                return;
            }
        }

        Assert.Fail($"no placement over {string.Join(", ", wanted)} within {timeout.TotalSeconds} s (cluster of {cluster.Silos.Count})");
    }
}

/// <summary>Membership that declares a killed silo dead in a few seconds (as the silo's own Redis settings do).</summary>
public sealed class FastMembershipConfigurator : ISiloConfigurator
{
    public void Configure(ISiloBuilder siloBuilder)
    {
        ArgumentNullException.ThrowIfNull(siloBuilder);
        siloBuilder.Configure<ClusterMembershipOptions>(m =>
        {
            m.ProbeTimeout = TimeSpan.FromSeconds(1);
            m.NumMissedProbesLimit = 3;
            m.NumVotesForDeathDeclaration = 2;
            m.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        });
    }
}

/// <summary>Silos and the test's client keep Orleans' membership in the Redis the test started (its address in <see cref="RedisKey"/>).</summary>
public sealed class RedisMembershipConfigurator : ISiloConfigurator, IClientBuilderConfigurator
{
    public const string RedisKey = "R1:Redis";

    public void Configure(ISiloBuilder siloBuilder)
    {
        ArgumentNullException.ThrowIfNull(siloBuilder);
        string redis = siloBuilder.Configuration[RedisKey] ?? throw new InvalidOperationException($"{RedisKey} is not set");
        siloBuilder.UseRedisClustering(r => r.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis));
    }

    public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(clientBuilder);
        string redis = configuration[RedisKey] ?? throw new InvalidOperationException($"{RedisKey} is not set");
        clientBuilder.UseRedisClustering(r => r.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis));
    }
}
