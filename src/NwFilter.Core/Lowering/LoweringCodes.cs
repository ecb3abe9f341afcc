namespace NwFilter.Core.Lowering;

/// <summary>The stable <see cref="Diagnostics.Diagnostic.Code"/>s of rules that no backend can match, refused while lowering.</summary>
public static class LoweringCodes
{
    /// <summary>A range (ports, addresses, STP fields, ICMPv6 type or code) whose end is below its start.</summary>
    public const string RangeReversed = "RangeReversed";

    /// <summary>An ipv6 rule that tests an ICMPv6 type or code with a protocol other than ICMPv6.</summary>
    public const string IcmpWithoutIcmpProtocol = "IcmpWithoutIcmpProtocol";

    /// <summary>An ipv6 rule with <c>ndtarget</c> or <c>ndlladdr</c> whose ICMPv6 type is not one NDP message that has the field, or negated.</summary>
    public const string NdFieldWithoutNdType = "NdFieldWithoutNdType";
}
