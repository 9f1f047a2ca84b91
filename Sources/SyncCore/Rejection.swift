/// Why one incoming version was not merged: a stable reason code and a message for people (names, ids and
/// counts only, never values). The versions stay in the receiving replica's quarantine; the sender is told.
public struct Rejection: Hashable, Sendable, CustomStringConvertible {
    /// A stable reason code (`protocol/SPEC.md` §12.6).
    public struct Reason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The account may not write this field of this table at all (field ownership).
        public static let forbidden = Reason(rawValue: "forbidden")
        /// The row belongs to a case (or township, or department) outside the account's scope.
        public static let outsideScope = Reason(rawValue: "outside_scope")
        /// A field that decides who sees a row (assignment, township, a child row's case) is not the account's to set.
        public static let scopeField = Reason(rawValue: "scope_field")
        /// An unknown table or field: only the centre may write what this build does not declare.
        public static let unknownField = Reason(rawValue: "unknown_field")
        /// The version vector claims writes the receiver has never seen from those replicas.
        public static let vvClaim = Reason(rawValue: "vv_claim")
        /// The version's author is not the account of the device that wrote it.
        public static let authorMismatch = Reason(rawValue: "author_mismatch")
        /// The version was written by another device and arrived without that device's signed bundle.
        public static let unsignedRelay = Reason(rawValue: "unsigned_relay")
        /// The relayed bundle's signature is missing, does not verify, or is not the writer's registered key.
        public static let badSignature = Reason(rawValue: "bad_signature")
        /// The writing device is revoked, or its user disabled.
        public static let writerRevoked = Reason(rawValue: "writer_revoked")
        /// The version's clock is further ahead of the receiver's than the allowed drift.
        public static let clockAhead = Reason(rawValue: "clock_ahead")
        /// Merging would give the field more concurrent versions than any replica may hold.
        public static let tooManyVersions = Reason(rawValue: "too_many_versions")
        /// Merging would make the field state larger than any replica may hold.
        public static let stateTooLarge = Reason(rawValue: "state_too_large")
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason): \(message)" }
}
