/// An error with a stable machine-readable code and a message meant for people.
///
/// Codes are listed in `protocol/SPEC.md` §9 and never change meaning; new codes may be added.
/// Messages never contain field values, only names, ids and counts.
public struct SyncError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable code such as `unknown_table`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // Schema and input.
        public static let unknownTable = Code(rawValue: "unknown_table")
        public static let unknownField = Code(rawValue: "unknown_field")
        public static let typeMismatch = Code(rawValue: "type_mismatch")
        public static let nullNotAllowed = Code(rawValue: "null_not_allowed")
        public static let reservedField = Code(rawValue: "reserved_field")
        public static let invalidKey = Code(rawValue: "invalid_key")
        public static let unknownRow = Code(rawValue: "unknown_row")
        public static let unknownConflict = Code(rawValue: "unknown_conflict")
        // Change-set envelope and payload.
        public static let badMagic = Code(rawValue: "bad_magic")
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        public static let checksumMismatch = Code(rawValue: "checksum_mismatch")
        public static let truncated = Code(rawValue: "truncated")
        public static let malformed = Code(rawValue: "malformed")
        public static let compressedTooLarge = Code(rawValue: "compressed_too_large")
        public static let decompressedTooLarge = Code(rawValue: "decompressed_too_large")
        public static let expansionRatioExceeded = Code(rawValue: "expansion_ratio_exceeded")
        public static let valueTooLarge = Code(rawValue: "value_too_large")
        public static let versionVectorTooLarge = Code(rawValue: "version_vector_too_large")
        public static let tooManyItems = Code(rawValue: "too_many_items")
        public static let corruptStream = Code(rawValue: "corrupt_stream")
        public static let ownReplica = Code(rawValue: "own_replica")
        /// A version-vector counter or a sequence number above `VersionVector.maxCounter`.
        public static let counterOutOfRange = Code(rawValue: "counter_out_of_range")
        /// A table or field name that is not lower-case ASCII (`[a-z0-9_]`, 1–64 bytes).
        public static let badName = Code(rawValue: "bad_name")
    }

    /// The stable code.
    public var code: Code
    /// A one-line explanation for people (no field values).
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// Lets callers branch on a code: `case SyncError.Code.truncated: …` in a `switch` over an error.
    public static func ~= (code: Code, error: SyncError) -> Bool {
        error.code == code
    }
}
