using R1Orleans.Client.Chaos;

namespace R1Orleans.Client.Tests.Chaos;

public sealed class FaultScheduleTests
{
    [Fact]
    public void Every_fault_kind_is_read_with_its_target_and_durations_in_time_order()
    {
        FaultSchedule s = FaultSchedule.Parse("""
            # a comment line
            20s  redis-restart wipe for 2s
            1.5s kill s1        # trailing comment
            500ms join http
            3s   stop worker for 4s
            7s   cont s2
            8s   term gateway
            9s   redis-restart
            10s  redis-flush
            11s  redis-pause for 250ms
            1m   delay s0 200ms for 5s
            """, "test");
        Assert.Equal(
            [
                new Fault(TimeSpan.FromMilliseconds(500), FaultKind.Join, Http: true, Line: 4),
                new Fault(TimeSpan.FromSeconds(1.5), FaultKind.Kill, "s1", Line: 3),
                new Fault(TimeSpan.FromSeconds(3), FaultKind.Stop, "worker", TimeSpan.FromSeconds(4), Line: 5),
                new Fault(TimeSpan.FromSeconds(7), FaultKind.Cont, "s2", Line: 6),
                new Fault(TimeSpan.FromSeconds(8), FaultKind.Term, "gateway", Line: 7),
                new Fault(TimeSpan.FromSeconds(9), FaultKind.RedisRestart, Line: 8),
                new Fault(TimeSpan.FromSeconds(10), FaultKind.RedisFlush, Line: 9),
                new Fault(TimeSpan.FromSeconds(11), FaultKind.RedisPause, Duration: TimeSpan.FromMilliseconds(250), Line: 10),
                new Fault(TimeSpan.FromSeconds(20), FaultKind.RedisRestart, Duration: TimeSpan.FromSeconds(2), Wipe: true, Line: 2),
                new Fault(TimeSpan.FromMinutes(1), FaultKind.Delay, "s0", TimeSpan.FromSeconds(5), Amount: TimeSpan.FromMilliseconds(200), Line: 11),
            ],
            s.Faults);
        Assert.Equal(TimeSpan.FromSeconds(65), s.End);
    }

    [Theory]
    [InlineData("5x kill s1", ":1: '5x' is not a time")]
    [InlineData("-1s kill s1", ":1: '-1s' is not a time")]
    [InlineData("2h kill s1", ":1: '2h' is not a time")]
    [InlineData("61m kill s1", "longer than 60 minutes")]
    [InlineData("5s", ":1: a time needs a fault after it")]
    [InlineData("5s explode s1", ":1: unknown fault 'explode'")]
    [InlineData("5s kill", ":1: a silo fault needs a target")]
    [InlineData("5s kill node7", ":1: 'node7' is not a target")]
    [InlineData("5s kill s1 now", ":1: unexpected 'now' after kill")]
    [InlineData("5s stop s1 for", ":1: 'for' needs a duration")]
    [InlineData("5s stop s1 for 0s", ":1: a duration must be above zero")]
    [InlineData("5s redis-pause", ":1: redis-pause needs 'for DURATION'")]
    [InlineData("5s delay s1", ":1: delay needs an amount")]
    public void A_bad_line_is_an_error_naming_the_source_line_and_what_is_wrong(string line, string expected)
    {
        FormatException e = Assert.Throws<FormatException>(() => FaultSchedule.Parse(line, "my.schedule"));
        Assert.StartsWith("my.schedule:1: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_line_is_reported_at_once()
    {
        FormatException e = Assert.Throws<FormatException>(() => FaultSchedule.Parse("1s kill s1\n2s boom\n\n4s stop\n", "f"));
        Assert.Equal(["f:2: ", "f:4: "], e.Message.Split(Environment.NewLine).Select(l => l[..5]));
    }

    [Fact]
    public void The_built_in_schedules_parse_and_ci_has_the_issues_faults_for_three_silos()
    {
        Assert.Equal(["ci", "join", "none", "redis"], NamedSchedules.Names);
        foreach (string name in NamedSchedules.Names)
        {
            Assert.Empty(FaultSchedule.Load(name).Problems(3, attached: false, redisStarted: true, redisKnown: true));
        }

        FaultSchedule ci = FaultSchedule.Load("ci");
        Assert.Equal([FaultKind.Kill, FaultKind.Stop, FaultKind.Join, FaultKind.Term], ci.Faults.Select(f => f.Kind));
        Assert.All(ci.Faults.Where(f => f.TargetsSilo), f => Assert.Equal("worker", f.Target));
        Assert.True(ci.End < TimeSpan.FromMinutes(1));
        Assert.Equal([FaultKind.Join], FaultSchedule.Load("join").Faults.Select(f => f.Kind));
        Assert.Empty(FaultSchedule.Load("none").Faults);
    }

    [Fact]
    public void An_unknown_schedule_name_lists_the_built_in_ones()
    {
        FormatException e = Assert.Throws<FormatException>(() => FaultSchedule.Load("no-such-schedule"));
        Assert.Contains("ci, join, none, redis", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_schedule_file_is_read_from_disk()
    {
        string path = Path.Combine(Path.GetTempPath(), $"r1-chaos-{Guid.NewGuid():N}.schedule");
        File.WriteAllText(path, "2s kill s2\n");
        try
        {
            Assert.Equal([new Fault(TimeSpan.FromSeconds(2), FaultKind.Kill, "s2", Line: 1)], FaultSchedule.Load(path).Faults);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Problems_name_silos_that_will_not_exist_yet_and_count_joins()
    {
        FaultSchedule s = FaultSchedule.Parse("1s kill s3\n2s join\n3s kill s3\n4s kill s5\n", "f");
        IReadOnlyList<string> problems = s.Problems(3, attached: false, redisStarted: true, redisKnown: true);
        Assert.Equal(2, problems.Count);
        Assert.Contains("f:1: kill names s3, but only s0..s2 exist by 1s", problems[0], StringComparison.Ordinal);
        Assert.Contains("f:4: kill names s5, but only s0..s3 exist by 4s", problems[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Problems_refuse_silo_faults_when_attached_and_Redis_faults_without_Redis()
    {
        FaultSchedule s = FaultSchedule.Parse("1s kill s1\n2s join\n3s redis-restart\n4s redis-flush\n", "f");
        IReadOnlyList<string> attached = s.Problems(0, attached: true, redisStarted: false, redisKnown: false);
        Assert.Equal(4, attached.Count);
        Assert.Contains("with --attach the harness started none", attached[0], StringComparison.Ordinal);
        Assert.Contains("needs the redis-server the harness starts", attached[2], StringComparison.Ordinal);
        Assert.Contains("give --redis HOST:PORT", attached[3], StringComparison.Ordinal);

        IReadOnlyList<string> withRedis = FaultSchedule.Parse("4s redis-flush\n5s redis-pause for 1s\n", "f").Problems(0, attached: true, redisStarted: false, redisKnown: true);
        Assert.Empty(withRedis);
    }

    [Fact]
    public void A_delay_runs_on_silos_the_harness_started_but_not_when_attached()
    {
        Assert.Empty(FaultSchedule.Parse("1s delay s1 200ms for 5s", "f").Problems(3, attached: false, redisStarted: true, redisKnown: true));
        string problem = Assert.Single(FaultSchedule.Parse("1s delay s1 200ms", "f").Problems(3, attached: true, redisStarted: false, redisKnown: false));
        Assert.Contains("acts on a silo process", problem, StringComparison.Ordinal);
    }
}
