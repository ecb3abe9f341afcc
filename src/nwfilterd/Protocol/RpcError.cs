namespace NwFilter.Daemon.Protocol;

/// <summary>libvirt's virErrorNumber values nwfilterd sends (include/libvirt/virterror.h).</summary>
internal static class ErrorCode
{
    public const int InternalError = 1;
    public const int NoSupport = 3;
    public const int InvalidArg = 8;
    public const int OperationFailed = 9;
    public const int XmlError = 27;
    public const int OperationDenied = 29;
    public const int XmlDetail = 35;
    public const int Rpc = 39;
    public const int AuthFailed = 45;
    public const int OperationInvalid = 55;
    public const int InvalidNwFilter = 61;
    public const int NoNwFilter = 62;
    public const int BuildFirewall = 63;
    public const int InvalidNwFilterBinding = 100;
    public const int NoNwFilterBinding = 101;
}

/// <summary>libvirt's virErrorDomain values nwfilterd sends.</summary>
internal static class ErrorDomain
{
    public const int Rpc = 7;
    public const int Remote = 13;
    public const int NwFilter = 33;
}

/// <summary>
/// A remote_error: what libvirt's client turns into the error virsh prints. <see cref="Message"/> is the whole text
/// (libvirt's prefix for the code, then the detail), as libvirt's own daemon sends it.
/// </summary>
internal sealed record RpcError(int Code, int Domain, string Message, int Level = 2)
{
    /// <summary>The error with libvirt's prefix for <paramref name="code"/> before <paramref name="detail"/>.</summary>
    public static RpcError Of(int code, int domain, string detail) => new(code, domain, Prefix(code) + detail);

    /// <summary>The reply body: remote_error.</summary>
    public void Write(XdrWriter w)
    {
        w.WriteInt32(Code).WriteInt32(Domain).WriteOptionalString(Message).WriteInt32(Level)
         .WriteUInt32(0) // dom: NULL
         .WriteOptionalString(null).WriteOptionalString(null).WriteOptionalString(null) // str1..str3
         .WriteInt32(0).WriteInt32(0)
         .WriteUInt32(0); // net: NULL
    }

    /// <summary>libvirt's virErrorMsg texts (with the detail; src/util/virerror.c) for the codes sent here.</summary>
    private static string Prefix(int code) => code switch
    {
        ErrorCode.InternalError => "internal error: ",
        ErrorCode.NoSupport => "this function is not supported by the connection driver: ",
        ErrorCode.InvalidArg => "invalid argument: ",
        ErrorCode.OperationFailed => "operation failed: ",
        ErrorCode.XmlError => "XML error: ",
        ErrorCode.OperationDenied => "operation forbidden: ",
        ErrorCode.XmlDetail => "",
        ErrorCode.Rpc => "",
        ErrorCode.AuthFailed => "authentication failed: ",
        ErrorCode.OperationInvalid => "Requested operation is not valid: ",
        ErrorCode.InvalidNwFilter => "Invalid network filter: ",
        ErrorCode.NoNwFilter => "Network filter not found: ",
        ErrorCode.BuildFirewall => "error while building firewall: ",
        ErrorCode.InvalidNwFilterBinding => "Invalid network filter binding: ",
        ErrorCode.NoNwFilterBinding => "Network filter binding not found: ",
        _ => "",
    };
}

/// <summary>Thrown by a procedure to answer its call with an error reply.</summary>
internal sealed class RpcErrorException(RpcError error) : Exception(error.Message)
{
    public RpcError Error { get; } = error;
}
