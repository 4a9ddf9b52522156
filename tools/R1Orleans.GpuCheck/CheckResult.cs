namespace R1Orleans.GpuCheck;

/// <summary>One op check: what ran, its tolerance on the relative L2 error, and how close it came.</summary>
public sealed record CheckResult(string Name, double Tolerance, Agreement Agreement)
{
    public bool Passed => Agreement.Passes(Tolerance);

    public override string ToString() =>
        $"{(Passed ? "PASS" : "FAIL")} {Name,-44} relL2 {Agreement.RelativeL2:E2} (tol {Tolerance:E0})  max|d| {Agreement.MaxAbsDifference:E2}  non-finite {Agreement.NonFinite}/{Agreement.Count}";
}
