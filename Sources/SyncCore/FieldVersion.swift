/// One write of one field: the value and the clocks that place it in causal history.
public struct FieldVersion: Hashable, Sendable {
    /// The value written.
    public var value: FieldValue
    /// The field's version vector at this write.
    public var vv: VersionVector
    /// The writer's HLC time of the write.
    public var hlc: HLCTimestamp
    /// The replica that made the write.
    public var writer: ReplicaID
    /// Who made the write, where known (a user name; empty when unknown).
    public var author: String

    /// Creates a version.
    public init(value: FieldValue, vv: VersionVector, hlc: HLCTimestamp, writer: ReplicaID, author: String = "") {
        self.value = value
        self.vv = vv
        self.hlc = hlc
        self.writer = writer
        self.author = author
    }

    /// Versions are equal when every component is; authors compare by their UTF-8 bytes, never by Unicode
    /// canonical equivalence, so two authors that differ only in normalization stay two authors everywhere.
    public static func == (a: FieldVersion, b: FieldVersion) -> Bool {
        a.hlc == b.hlc && a.writer == b.writer && a.vv == b.vv && a.value == b.value
            && a.author.utf8.elementsEqual(b.author.utf8)
    }

    public func hash(into h: inout Hasher) {
        h.combine(hlc)
        h.combine(writer)
        h.combine(vv)
        h.combine(value)
        for b in author.utf8 { h.combine(b) }
    }

    /// The last-writer-wins order: greater (HLC, writer) wins; the value and then the vector only break ties
    /// that honest replicas never produce, so that hostile input still converges.
    public static func lwwLess(_ a: FieldVersion, _ b: FieldVersion) -> Bool {
        if a.hlc != b.hlc { return a.hlc < b.hlc }
        if a.writer != b.writer { return a.writer < b.writer }
        if a.value != b.value { return FieldValue.totalOrderLess(a.value, b.value) }
        if !a.author.utf8.elementsEqual(b.author.utf8) { return a.author.utf8.lexicographicallyPrecedes(b.author.utf8) }
        return a.vv.entries.lexicographicallyPrecedes(b.vv.entries) {
            $0.replica != $1.replica ? $0.replica < $1.replica : $0.counter < $1.counter
        }
    }
}

/// How concurrent versions of a field pick the visible winner.
public enum MergePolicy: Hashable, Sendable {
    /// Last writer wins: the greater (HLC, replica id).
    case lww
    /// The value later in `order` wins (values not listed rank lowest); ties fall back to last writer wins.
    /// Used for workflow states, so that a merge never moves a status backwards.
    case ordered([String])

    /// Whether `a` loses to `b` under this policy.
    public func less(_ a: FieldVersion, _ b: FieldVersion) -> Bool {
        if case .ordered(let order) = self {
            let ra = order.firstIndex(of: a.value.displayText) ?? -1
            let rb = order.firstIndex(of: b.value.displayText) ?? -1
            if ra != rb { return ra < rb }
        }
        return FieldVersion.lwwLess(a, b)
    }
}

/// The replicated state of one field: the set of versions none of which saw another.
///
/// Almost always one version. After concurrent writes it holds every concurrent version (the "siblings"), so
/// no write typed anywhere is lost; the visible value is the policy's winner among them. Merging is a set
/// union that drops every version another one dominates, which makes it commutative, associative and
/// idempotent: replicas that saw the same writes hold the same state whatever the order they arrived in.
///
/// ```swift
/// let merged = local.merged(with: incoming)
/// if merged != local { /* persist */ }
/// merged.winner(policy: .lww).value
/// ```
public struct FieldState: Hashable, Sendable {
    /// The state after a local write: one version that dominates every version of `previous`.
    /// - Throws: `counter_out_of_range` when this replica's counter for the field is already at
    ///   `VersionVector.maxCounter` (only hostile input can put it there), and `version_vector_too_large` when
    ///   the new version would name more than `StateBounds.maxVersionVectorEntries` replicas. Nothing traps.
    public static func localWrite(
        after previous: FieldState?, value: FieldValue, replica: ReplicaID, hlc: HLCTimestamp, author: String
    ) throws(SyncError) -> FieldState {
        let base = previous?.vv ?? VersionVector()
        guard base[replica] < VersionVector.maxCounter else {
            throw SyncError(.counterOutOfRange, "this field's version counter is exhausted; the state holds a forged version")
        }
        let vv = base.incremented(for: replica)
        guard vv.entries.count <= StateBounds.maxVersionVectorEntries else {
            throw SyncError(.versionVectorTooLarge,
                            "this field was written by more than \(StateBounds.maxVersionVectorEntries) replicas")
        }
        return FieldState(FieldVersion(value: value, vv: vv, hlc: hlc, writer: replica, author: author))
    }

    /// The versions, pairwise concurrent, in canonical order (greatest by `FieldVersion.lwwLess` first).
    public private(set) var versions: [FieldVersion]

    /// A state holding exactly one version.
    public init(_ version: FieldVersion) { versions = [version] }

    /// Normalises any list of versions: drops dominated versions and duplicates, sorts canonically.
    public init(normalizing input: [FieldVersion]) {
        var kept: [FieldVersion] = []
        kept.reserveCapacity(input.count)
        outer: for v in input {
            var i = 0
            while i < kept.count {
                switch v.vv.compare(kept[i].vv) {
                case .before: continue outer
                case .after: kept.remove(at: i); continue
                case .equal:
                    if FieldVersion.lwwLess(kept[i], v) { kept[i] = v }
                    continue outer
                case .concurrent: i += 1
                }
            }
            kept.append(v)
        }
        if kept.count > 1 { kept.sort { FieldVersion.lwwLess($1, $0) } }
        versions = kept
    }

    /// The union of both states, without dominated versions.
    public func merged(with other: FieldState) -> FieldState {
        if versions.count == 1 && other.versions.count == 1 {
            switch versions[0].vv.compare(other.versions[0].vv) {
            case .after: return self
            case .before: return other
            default: break
            }
        }
        return FieldState(normalizing: versions + other.versions)
    }

    /// The join of every version's vector: what a new local write must dominate.
    public var vv: VersionVector {
        versions.dropFirst().reduce(versions[0].vv) { $0.joined(with: $1.vv) }
    }

    /// The visible version under `policy`.
    public func winner(policy: MergePolicy) -> FieldVersion {
        versions.count == 1 ? versions[0] : versions.max(by: policy.less)!
    }

    /// Whether concurrent versions disagree on the value (an open value conflict).
    public var hasValueConflict: Bool {
        versions.count > 1 && versions.dropFirst().contains { $0.value != versions[0].value }
    }
}
