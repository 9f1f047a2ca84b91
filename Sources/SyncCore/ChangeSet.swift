/// The changes to one row that travel in a change-set: the full state of every changed field.
public struct RowChange: Hashable, Sendable {
    /// The table name (any table, known to this build or not).
    public var table: String
    /// The row's primary key (a text id generated offline, such as a UUIDv7).
    public var key: String
    /// Changed fields with their whole state, sorted by name.
    public var fields: [FieldChange]
    /// Changed delete coverage, sorted by field name.
    public var covered: [CoveredChange]

    /// Creates a row change; fields and coverage are sorted by name.
    public init(table: String, key: String, fields: [FieldChange], covered: [CoveredChange] = []) {
        self.table = table
        self.key = key
        self.fields = fields.sorted { utf8Less($0.name, $1.name) }
        self.covered = covered.sorted { utf8Less($0.field, $1.field) }
    }
}

/// One field's state inside a `RowChange`.
public struct FieldChange: Hashable, Sendable {
    public var name: String
    public var state: FieldState
    public init(name: String, state: FieldState) {
        self.name = name
        self.state = state
    }
}

/// One field's delete coverage inside a `RowChange`.
public struct CoveredChange: Hashable, Sendable {
    public var field: String
    public var vv: VersionVector
    public init(field: String, vv: VersionVector) {
        self.field = field
        self.vv = vv
    }
}

/// A change-set: what one replica sends another, in memory.
///
/// `fromSeq`/`toSeq` bound the sender's local change sequence covered by the rows: the set holds every change
/// with `fromSeq < seq ≤ toSeq`. `acks` carries what the sender has received from others, as the highest
/// contiguous sequence number of each peer it imported.
public struct ChangeSet: Hashable, Sendable {
    public var sender: ReplicaID
    public var fromSeq: UInt64
    public var toSeq: UInt64
    public var acks: [Ack]
    public var rows: [RowChange]

    /// What the sender has received from one peer.
    public struct Ack: Hashable, Sendable {
        public var replica: ReplicaID
        public var seq: UInt64
        public init(replica: ReplicaID, seq: UInt64) {
            self.replica = replica
            self.seq = seq
        }
    }

    /// Creates a change-set; acks are sorted by replica and rows by (table, key).
    public init(sender: ReplicaID, fromSeq: UInt64, toSeq: UInt64, acks: [Ack] = [], rows: [RowChange]) {
        self.sender = sender
        self.fromSeq = fromSeq
        self.toSeq = toSeq
        self.acks = acks.sorted { $0.replica < $1.replica }
        self.rows = rows.sorted { $0.table != $1.table ? utf8Less($0.table, $1.table) : utf8Less($0.key, $1.key) }
    }

    /// How many field states the set carries.
    public var fieldCount: Int { rows.reduce(0) { $0 + $1.fields.count } }
}

/// Orders strings by their UTF-8 bytes: the canonical order of keys and names on the wire.
public func utf8Less(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
