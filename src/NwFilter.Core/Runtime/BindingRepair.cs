using NwFilter.Core.Apply;

namespace NwFilter.Core.Runtime;

/// <summary>
/// What a restore found for one port before it acted, and what it did: the report of
/// <see cref="RestoreBindingsRequest"/> (Restore-NwFilterBinding, nwfilterd at start), after a crash, a flush or a
/// reboot. <see cref="Found"/> is the drift check's verdict (<see cref="BindingManager.TestAsync(System.Collections.Generic.IReadOnlyCollection{string}, System.Threading.CancellationToken)"/>) just before the
/// restore; a port found in sync is re-applied all the same (and reported at verbose level only).
/// </summary>
/// <param name="PortDevice">The port device.</param>
/// <param name="Filter">The binding's filter; null for chains without a binding.</param>
/// <param name="Found">What the kernel held: in sync, drifted, missing, or orphaned (chains of a port without a binding).</param>
/// <param name="MissingRules">How many rules the binding needs were not in the kernel.</param>
/// <param name="UnexpectedRules">How many rules the kernel held for the port that the binding does not make (another generation's, or a half-built one's).</param>
/// <param name="Done">What the restore did: re-applied, removed, or failed and why.</param>
/// <param name="Succeeded">True when the port now has what the store says.</param>
public sealed record BindingRepair(string PortDevice, string? Filter, BindingDriftStatus Found, int MissingRules, int UnexpectedRules, string Done, bool Succeeded)
{
    /// <summary>True when the port had to be repaired (it was not in sync).</summary>
    public bool Repaired => Found != BindingDriftStatus.InSync && Succeeded;

    /// <summary>One line: port, what was found, what was done.</summary>
    public override string ToString() => $"{PortDevice}: found {FoundText}; {Done}";

    private string FoundText => Found switch
    {
        BindingDriftStatus.InSync => "its rules in force",
        BindingDriftStatus.Missing => $"no rules in the kernel ({MissingRules} missing)",
        BindingDriftStatus.Orphaned => $"NwFilter rules without a binding ({UnexpectedRules} line{(UnexpectedRules == 1 ? "" : "s")})",
        _ => $"rules that differ from its binding ({MissingRules} missing, {UnexpectedRules} unexpected)",
    };
}
