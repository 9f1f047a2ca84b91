/// The replicated state of one row: every field's state plus what deletions covered.
///
/// A delete is a write of the hidden field `_deleted = true` plus, for every field, the join of the versions
/// the deleting replica had seen (`covered`). That makes deletion exact under any delivery order:
/// - a field version ≤ `covered[field]` was seen by a delete;
/// - a field version not ≤ it was written concurrently with the delete: it is kept and raises a conflict
///   while the row stays deleted;
/// - a write made on a replica that sees the row deleted also writes `_deleted = false`, dominating the
///   tombstone: that is undelete, and the row comes back with all its fields.
///
/// Merging is per field (`FieldState.merged`) and per covered vector (pointwise join), so it is commutative,
/// associative and idempotent.
public struct RowState: Hashable, Sendable {
    /// Field states by field name, including `_deleted` once the row was ever deleted.
    public var fields: [String: FieldState]
    /// Per field, the join of every version some delete had seen.
    public var covered: [String: VersionVector]

    /// An empty row.
    public init(fields: [String: FieldState] = [:], covered: [String: VersionVector] = [:]) {
        self.fields = fields
        self.covered = covered
    }

    /// Whether the row is deleted: the visible `_deleted` value is true.
    public var isDeleted: Bool {
        fields[Schema.deletedField]?.winner(policy: .lww).value == .bool(true)
    }

    /// Whether the row holds any user field.
    public var isEmpty: Bool { fields.isEmpty }

    /// Records a local write.
    /// - Returns: the names of the fields whose state changed (the field, and `_deleted` on undelete).
    /// - Throws: see `FieldState.localWrite`; the row is unchanged then.
    @discardableResult
    public mutating func write(
        field: String, value: FieldValue, replica: ReplicaID, hlc: HLCTimestamp, author: String
    ) throws(SyncError) -> [String] {
        var changed = [field]
        var copy = self
        if copy.isDeleted {
            try copy.put(Schema.deletedField, .bool(false), replica, hlc, author)
            changed.append(Schema.deletedField)
        }
        try copy.put(field, value, replica, hlc, author)
        self = copy
        return changed
    }

    /// Records a local delete: covers every version seen here and writes `_deleted = true`.
    /// - Returns: the names of the fields whose state changed.
    /// - Throws: see `FieldState.localWrite`; the row is unchanged then.
    @discardableResult
    public mutating func delete(replica: ReplicaID, hlc: HLCTimestamp, author: String) throws(SyncError) -> [String] {
        let tombstone = try FieldState.localWrite(after: fields[Schema.deletedField], value: .bool(true), replica: replica,
                                                  hlc: hlc, author: author)
        var changed: [String] = []
        for (name, state) in fields where name != Schema.deletedField {
            let joined = covered[name].map { $0.joined(with: state.vv) } ?? state.vv
            if joined != covered[name] {
                covered[name] = joined
                changed.append(name)
            }
        }
        fields[Schema.deletedField] = tombstone
        changed.append(Schema.deletedField)
        return changed
    }

    private mutating func put(_ field: String, _ value: FieldValue, _ replica: ReplicaID, _ hlc: HLCTimestamp,
                              _ author: String) throws(SyncError) {
        fields[field] = try FieldState.localWrite(after: fields[field], value: value, replica: replica, hlc: hlc,
                                                  author: author)
    }

    /// Merges one incoming field state.
    /// - Returns: whether the local state changed.
    @discardableResult
    public mutating func merge(field: String, _ incoming: FieldState) -> Bool {
        guard let local = fields[field] else {
            fields[field] = incoming
            return true
        }
        let merged = local.merged(with: incoming)
        if merged == local { return false }
        fields[field] = merged
        return true
    }

    /// Merges one incoming covered vector.
    /// - Returns: whether the local state changed.
    @discardableResult
    public mutating func merge(covered field: String, _ incoming: VersionVector) -> Bool {
        let merged = covered[field].map { $0.joined(with: incoming) } ?? incoming
        if merged == covered[field] { return false }
        covered[field] = merged
        return true
    }

    /// Merges a whole row.
    public func merged(with other: RowState) -> RowState {
        var out = self
        for (name, state) in other.fields { out.merge(field: name, state) }
        for (name, vv) in other.covered { out.merge(covered: name, vv) }
        return out
    }

    /// The open conflicts of this row, sorted by field name.
    /// - Parameters:
    ///   - table: the table name, for the conflict ids.
    ///   - key: the row key.
    ///   - policy: the merge policy of each field, to name the current winner.
    public func conflicts(table: String, key: String, policy: (String) -> MergePolicy) -> [Conflict] {
        let deletion = isDeleted ? fields[Schema.deletedField]?.winner(policy: .lww) : nil
        var out: [Conflict] = []
        for name in fields.keys.sorted() {
            let state = fields[name]!
            var against: FieldVersion? = nil
            if let deletion, name != Schema.deletedField {
                let cov = covered[name] ?? VersionVector()
                if state.versions.contains(where: { !$0.vv.isDominated(by: cov) }) { against = deletion }
            }
            guard state.hasValueConflict || against != nil else { continue }
            out.append(Conflict(table: table, key: key, field: name, versions: state.versions,
                                deletion: against, winner: state.winner(policy: policy(name))))
        }
        return out
    }
}

/// An open conflict: concurrent versions of one field that disagree, or versions written concurrently with
/// the row's deletion.
public struct Conflict: Hashable, Sendable {
    /// A stable id, the same on every replica that holds the same versions (16 hex digits).
    public var id: String
    public var table: String
    public var key: String
    public var field: String
    /// The concurrent versions, greatest first.
    public var versions: [FieldVersion]
    /// The delete the versions were concurrent with, when the row is deleted.
    public var deletion: FieldVersion?
    /// The version currently shown.
    public var winner: FieldVersion

    /// Creates a conflict record and derives its id.
    public init(table: String, key: String, field: String, versions: [FieldVersion], deletion: FieldVersion?,
                winner: FieldVersion) {
        self.table = table
        self.key = key
        self.field = field
        self.versions = versions
        self.deletion = deletion
        self.winner = winner
        var h = FNV1a()
        h.add(table); h.add(key); h.add(field)
        for v in versions { h.add(v.vv) }
        if let deletion { h.add("deleted"); h.add(deletion.vv) }
        id = h.hex
    }

    /// `value` for disagreeing concurrent writes, `delete` for writes concurrent with a deletion.
    public var kind: String { deletion == nil ? "value" : "delete" }
}

/// 64-bit FNV-1a, for short stable ids.
struct FNV1a {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(byte: UInt8) {
        state = (state ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    mutating func add(_ s: String) {
        for b in s.utf8 { add(byte: b) }
        add(byte: 0)
    }
    mutating func add(_ v: UInt64) {
        for i in 0..<8 { add(byte: UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }
    mutating func add(_ vv: VersionVector) {
        for e in vv.entries {
            add(e.replica.high); add(e.replica.low); add(e.counter)
        }
        add(byte: 0xFF)
    }
    var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
