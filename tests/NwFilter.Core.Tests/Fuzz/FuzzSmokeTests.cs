using CsCheck;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Tests.TestSupport;
using NwFilter.Fuzz;
using Xunit.Abstractions;

namespace NwFilter.Core.Tests.Fuzz;

/// <summary>
/// The fuzz harness (tests/NwFilter.Fuzz, run for minutes by build.ps1 -Task Fuzz) kept from rotting: each target
/// runs a few hundred generated inputs here with no crash, and the harness itself reports what it must (an unexpected
/// exception, too much allocation) as a crash with CsCheck's seed, and a diagnostic as no crash.
/// </summary>
public sealed class FuzzSmokeTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("filter-xml", 150)]
    [InlineData("binding-xml", 150)]
    [InlineData("value-parser", 3_000)]
    [InlineData("frame-decoder", 20_000)]
    public void TargetRunsItsInputsWithoutACrash(string name, int iterations)
    {
        var result = Targets.Create(name).Run(FuzzBudget.ForIterations(iterations), output.WriteLine);

        output.WriteLine($"{name}: {result.Iterations} inputs in {result.Elapsed.TotalMilliseconds:0} ms");
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures));
        Assert.True(result.Iterations >= iterations, $"{result.Iterations} inputs run, {iterations} asked for");
    }

    [SkippableFact]
    public void NftScriptTargetChecksGeneratedScriptsWithNftInAScratchNamespace()
    {
        LabPrerequisites.Require();
        Requirement.Program("nft");
        using var target = new NftScriptTarget();

        var result = target.Run(FuzzBudget.ForIterations(3), output.WriteLine);

        output.WriteLine($"nft-script: {result.Iterations} batches, {target.Checked} filters passed nft -c, {target.Refused} refused, known crashes {result.KnownCrashes}");
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures));
        Assert.True(target.Checked + result.KnownCrashes > 0, "no generated filter reached nft -c");
    }

    [Fact]
    public void AnUnexpectedExceptionIsACrashReportedWithItsSeed()
    {
        var result = new Throwing(() => throw new InvalidOperationException("boom")).Run(FuzzBudget.ForIterations(20));

        var failure = Assert.Single(result.Failures);
        Assert.Contains("Set seed:", failure, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException: boom", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void ADiagnosticIsNoCrash()
    {
        var result = new Throwing(() => throw new NwFilterException(new Diagnostic(DiagnosticSeverity.Error, "Refused", "refused"))).Run(FuzzBudget.ForIterations(20));

        Assert.Empty(result.Failures);
        Assert.Equal(20, result.Iterations);
    }

    [Fact]
    public void AllocatingPastTheBoundIsACrash()
    {
        var result = new Throwing(() => GC.KeepAlive(new byte[100 << 20])).Run(FuzzBudget.ForIterations(5));

        Assert.Contains("allocated", Assert.Single(result.Failures), StringComparison.Ordinal);
    }

    /// <summary>A target whose every input runs <paramref name="body"/> under the harness's guard.</summary>
    private sealed class Throwing(Action body) : FuzzTarget<int>
    {
        public override string Name => "throwing";

        public override Gen<int> Inputs => Gen.Int[0, 100];

        protected override long InputSize(int input) => 4;

        protected override void Check(int input) => Guarded(input, body);
    }
}
