namespace NwFilter.Core.Store;

/// <summary>The stable <see cref="Diagnostics.Diagnostic.Code"/>s the filter store reports.</summary>
internal static class StoreCodes
{
    /// <summary>A filter name that is empty, too long, or could escape the store's directory.</summary>
    public const string InvalidFilterName = "InvalidFilterName";

    /// <summary>No filter has that name (or uuid).</summary>
    public const string FilterNotFound = "FilterNotFound";

    /// <summary>The uuid given belongs to a filter with another name.</summary>
    public const string UuidInUse = "UuidInUse";

    /// <summary>The name exists with another uuid than the one given.</summary>
    public const string FilterExistsWithOtherUuid = "FilterExistsWithOtherUuid";

    /// <summary>The define would close a loop of filter references (the graph's one loop id, <see cref="Graph.FilterGraph.FilterLoopCode"/>).</summary>
    public const string FilterLoop = Graph.FilterGraph.FilterLoopCode;

    /// <summary>Warning: a reference to a filter that does not exist (yet).</summary>
    public const string MissingFilterReference = "MissingFilterReference";

    /// <summary>Warning: a removed filter is still referenced by another one.</summary>
    public const string FilterStillReferenced = "FilterStillReferenced";

    /// <summary>A built-in filter that is not redefined cannot be removed.</summary>
    public const string BuiltInFilterNotRemovable = "BuiltInFilterNotRemovable";

    /// <summary>The filter is used by a binding (directly or through references).</summary>
    public const string FilterInUse = "FilterInUse";

    /// <summary>A stored file could not be read or parsed.</summary>
    public const string UnreadableFilterFile = "UnreadableFilterFile";

    /// <summary>A stored file's name does not match the filter's name inside.</summary>
    public const string FilterFileNameMismatch = "FilterFileNameMismatch";

    /// <summary>A filter changed between the read an edit started from and the define that stores the edit (nothing was stored).</summary>
    public const string FilterChangedConcurrently = "FilterChangedConcurrently";

    /// <summary>The store's lock could not be taken in time.</summary>
    public const string StoreLockTimeout = "StoreLockTimeout";

    /// <summary>The store's directory or a file in it could not be written.</summary>
    public const string StoreWriteFailed = "StoreWriteFailed";

    /// <summary>A filter file that does not hold exactly one filter document (malformed text is MalformedXml).</summary>
    public const string UnreadableDocument = "UnreadableDocument";
}
