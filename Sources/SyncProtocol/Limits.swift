import SyncCore

/// Hard limits a change-set must respect. Every limit has its own error code (`protocol/SPEC.md` §7).
///
/// Decoding checks each limit as soon as it can be crossed: the declared sizes before anything is inflated,
/// the running decompressed size after every inflated chunk, and counts and value sizes as they are read.
public struct ChangeSetLimits: Hashable, Sendable {
    /// Largest whole bundle (header + compressed payload + trailer), in bytes.
    public var maxCompressedBytes: Int = 64 << 20
    /// Largest decompressed payload, in bytes.
    public var maxDecompressedBytes: Int = 256 << 20
    /// Largest decompressed/compressed ratio.
    public var maxExpansionRatio: Int = 200
    /// Largest single value (a text in UTF-8 bytes), in bytes.
    public var maxValueBytes: Int = 1 << 20
    /// Most entries in one version vector.
    public var maxVersionVectorEntries: Int = 256
    /// Most concurrent versions of one field.
    public var maxVersionsPerField: Int = 64
    /// Most replicas in the replica dictionary.
    public var maxReplicas: Int = 65_536
    /// Most distinct characters in the character table: every Unicode scalar (0x110000 code points, surrogates
    /// included for simplicity), so that no text a writer may store can exceed it.
    public var maxCharacters: Int = 0x110000
    /// Most fields declared for one table, and most authors.
    public var maxNames: Int = 65_536
    /// Longest row key, table or field name, in UTF-8 bytes.
    public var maxKeyBytes: Int = 1024

    /// Most ROW records before their VALUES record (bounds the rows a reader holds at once).
    public var maxRowsPerGroup: Int = 4096

    /// The default limits.
    public init() {}

    /// The defaults (spelled out for call sites).
    public static let `default` = ChangeSetLimits()

    func check(_ condition: Bool, _ code: SyncError.Code, _ message: @autoclosure () -> String) throws(SyncError) {
        if !condition { throw SyncError(code, message()) }
    }
}
