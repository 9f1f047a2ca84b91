/// How two version vectors relate.
public enum CausalOrder: Sendable, Equatable {
    /// Same entries.
    case equal
    /// The left side happened before the right side (left < right).
    case before
    /// The left side happened after the right side (left > right).
    case after
    /// Neither saw the other.
    case concurrent
}

/// A version vector over replica ids: one counter per replica that wrote the field.
///
/// Entries are kept sorted by replica id, and zero counters are never stored, so two equal vectors have
/// equal entries and compare in one linear pass.
///
/// ```swift
/// let a = VersionVector([(x, 1)])
/// let b = a.incremented(for: y)      // {x:1, y:1}
/// a.compare(b)                       // .before
/// a.joined(with: b) == b             // true
/// ```
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    /// The entries, sorted by replica, each counter ≥ 1.
    public private(set) var entries: [Entry]

    /// One replica's counter.
    public struct Entry: Hashable, Sendable {
        /// The replica.
        public var replica: ReplicaID
        /// How many times that replica wrote this field.
        public var counter: UInt64
        /// Creates an entry.
        public init(replica: ReplicaID, counter: UInt64) {
            self.replica = replica
            self.counter = counter
        }
    }

    /// The empty vector.
    public init() { entries = [] }

    /// Creates a vector from entries in any order; zero counters are dropped and duplicates keep the maximum.
    public init(_ pairs: [(ReplicaID, UInt64)]) {
        var v = VersionVector()
        for (r, c) in pairs where c > v[r] { v[r] = c }
        self = v
    }

    /// Creates a vector from entries already sorted by replica with no duplicates and no zeros.
    /// - Returns: `nil` when the entries break that rule (the codec rejects such input).
    public init?(sortedEntries: [Entry]) {
        for i in sortedEntries.indices {
            if sortedEntries[i].counter == 0 { return nil }
            if i > 0 && !(sortedEntries[i - 1].replica < sortedEntries[i].replica) { return nil }
        }
        entries = sortedEntries
    }

    /// The counter for `replica` (0 when absent).
    public subscript(replica: ReplicaID) -> UInt64 {
        get {
            for e in entries where e.replica == replica { return e.counter }
            return 0
        }
        set {
            if let i = entries.firstIndex(where: { $0.replica == replica }) {
                if newValue == 0 { entries.remove(at: i) } else { entries[i].counter = newValue }
            } else if newValue > 0 {
                let at = entries.firstIndex(where: { replica < $0.replica }) ?? entries.endIndex
                entries.insert(Entry(replica: replica, counter: newValue), at: at)
            }
        }
    }

    /// Whether the vector has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// The largest counter a replica accepts (2^53 − 1): honest replicas never come near it (a counter grows by
    /// one per write), and every JSON parser reads it exactly. Counters above it are rejected on the wire
    /// (`counter_out_of_range`), so no arithmetic on a stored counter can overflow.
    public static let maxCounter: UInt64 = (1 << 53) - 1

    /// This vector with `replica`'s counter increased by one. Never traps: a counter already at
    /// `maxCounter` stays there (`FieldState.localWrite` refuses such a write before it gets here).
    public func incremented(for replica: ReplicaID) -> VersionVector {
        var v = self
        let c = self[replica]
        v[replica] = c >= Self.maxCounter ? c : c + 1
        return v
    }

    /// Whether every counter is within `1...maxCounter`.
    public var countersInRange: Bool { entries.allSatisfy { $0.counter <= Self.maxCounter } }

    /// The pointwise maximum.
    public func joined(with other: VersionVector) -> VersionVector {
        var out: [Entry] = []
        out.reserveCapacity(max(entries.count, other.entries.count))
        var i = 0
        var j = 0
        let a = entries
        let b = other.entries
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].replica < b[j].replica) {
                out.append(a[i]); i += 1
            } else if i == a.count || b[j].replica < a[i].replica {
                out.append(b[j]); j += 1
            } else {
                out.append(Entry(replica: a[i].replica, counter: max(a[i].counter, b[j].counter)))
                i += 1; j += 1
            }
        }
        var v = VersionVector()
        v.entries = out
        return v
    }

    /// Compares two vectors in one pass over their sorted entries.
    public func compare(_ other: VersionVector) -> CausalOrder {
        var less = false
        var greater = false
        var i = 0
        var j = 0
        let a = entries
        let b = other.entries
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].replica < b[j].replica) {
                greater = true; i += 1
            } else if i == a.count || b[j].replica < a[i].replica {
                less = true; j += 1
            } else {
                if a[i].counter < b[j].counter { less = true } else if a[i].counter > b[j].counter { greater = true }
                i += 1; j += 1
            }
            if less && greater { return .concurrent }
        }
        switch (less, greater) {
        case (false, false): return .equal
        case (true, false): return .before
        case (false, true): return .after
        case (true, true): return .concurrent
        }
    }

    /// Whether every counter here is ≤ the other's.
    public func isDominated(by other: VersionVector) -> Bool {
        let o = compare(other)
        return o == .before || o == .equal
    }

    /// `{replica-prefix:counter, …}` with 8-digit replica prefixes.
    public var description: String {
        "{" + entries.map { "\($0.replica.short):\($0.counter)" }.joined(separator: ", ") + "}"
    }
}
