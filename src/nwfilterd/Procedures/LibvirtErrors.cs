using NwFilter.Core.Apply;
using NwFilter.Core.Diagnostics;
using NwFilter.Core.Graph;
using NwFilter.Core.Store;
using NwFilter.Daemon.Protocol;

namespace NwFilter.Daemon.Procedures;

/// <summary>
/// The errors nwfilterd answers with: libvirt's number, domain and text where libvirt 9.0 has one for the case
/// (measured with virsh against libvirt's own driver), else NwFilter's message under the libvirt number that fits its
/// category. docs/design/libvirt-daemon.md has the table.
/// </summary>
internal static class LibvirtErrors
{
    public static RpcErrorException NoFilterByName(string name) =>
        new(RpcError.Of(ErrorCode.NoNwFilter, ErrorDomain.NwFilter, $"no nwfilter with matching name '{name}'"));

    public static RpcErrorException NoFilterByUuid(Guid uuid) =>
        new(RpcError.Of(ErrorCode.NoNwFilter, ErrorDomain.NwFilter, $"no nwfilter with matching uuid '{uuid:D}'"));

    public static RpcErrorException NoBinding(string portDevice) =>
        new(RpcError.Of(ErrorCode.NoNwFilterBinding, ErrorDomain.NwFilter, $"no nwfilter binding for port dev '{portDevice}'"));

    public static RpcErrorException BindingExists(string portDevice) =>
        new(RpcError.Of(ErrorCode.OperationFailed, ErrorDomain.NwFilter, $"binding '{portDevice}' already exists"));

    public static RpcErrorException ReadOnly(string function) =>
        new(RpcError.Of(ErrorCode.OperationDenied, ErrorDomain.Remote, $"read only access prevents {function}"));

    public static RpcErrorException NotOpen() =>
        new(RpcError.Of(ErrorCode.InternalError, ErrorDomain.Rpc, "connection not open"));

    public static RpcErrorException UnsupportedFlags(uint flags, string function) =>
        new(RpcError.Of(ErrorCode.InvalidArg, ErrorDomain.NwFilter, $"unsupported flags (0x{flags:x}) in function {function}"));

    /// <summary>An engine refusal as libvirt would word it (or NwFilter's own words under the fitting number).</summary>
    public static RpcErrorException From(NwFilterException e)
    {
        var d = e.Primary;
        var detail = e.Diagnostics.Length == 1 ? d.ToString() : string.Join(" ", e.Diagnostics.Where(x => x.Severity == DiagnosticSeverity.Error).Select(x => x.ToString()));
        return new RpcErrorException(d.Code switch
        {
            // libvirt: virReportError(VIR_ERR_INTERNAL_ERROR, "referenced filter '%s' is missing") at instantiation.
            FilterGraph.FilterNotFoundCode => RpcError.Of(ErrorCode.InternalError, ErrorDomain.NwFilter, $"referenced filter '{d.Value ?? d.Filter}' is missing"),
            StoreCodes.FilterInUse => RpcError.Of(ErrorCode.OperationInvalid, ErrorDomain.NwFilter, "nwfilter is in use"),
            ApplyCodes.BindingNotFound => RpcError.Of(ErrorCode.NoNwFilterBinding, ErrorDomain.NwFilter, $"no nwfilter binding for port dev '{d.Value}'"),
            // libvirt's words for the same refusal, without NwFilter's place in the document.
            Core.Xml.XmlDiagnosticCodes.InvalidChainName => RpcError.Of(ErrorCode.InvalidArg, ErrorDomain.NwFilter, d.Message),
            StoreCodes.FilterLoop => RpcError.Of(ErrorCode.InvalidNwFilter, ErrorDomain.NwFilter, detail),
            StoreCodes.UuidInUse or StoreCodes.FilterExistsWithOtherUuid => RpcError.Of(ErrorCode.OperationFailed, ErrorDomain.NwFilter, detail),
            ApplyCodes.FirewallApplyFailed or ApplyCodes.FirewallReadFailed or ApplyCodes.ReinstantiationFailed => RpcError.Of(ErrorCode.BuildFirewall, ErrorDomain.NwFilter, detail),
            _ => d.Category switch
            {
                DiagnosticCategory.InvalidData => RpcError.Of(ErrorCode.XmlError, ErrorDomain.NwFilter, detail),
                DiagnosticCategory.InvalidArgument => RpcError.Of(ErrorCode.InvalidArg, ErrorDomain.NwFilter, detail),
                DiagnosticCategory.ObjectNotFound => RpcError.Of(ErrorCode.NoNwFilter, ErrorDomain.NwFilter, detail),
                DiagnosticCategory.InvalidOperation => RpcError.Of(ErrorCode.OperationInvalid, ErrorDomain.NwFilter, detail),
                DiagnosticCategory.PermissionDenied => RpcError.Of(ErrorCode.OperationDenied, ErrorDomain.NwFilter, detail),
                _ => RpcError.Of(ErrorCode.OperationFailed, ErrorDomain.NwFilter, detail),
            },
        });
    }
}
