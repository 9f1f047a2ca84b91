/// The 128-bit identity of a replica, chosen at random by `daiban init`.
///
/// Replica ids order as unsigned 128-bit big-endian integers; that order breaks ties between
/// concurrent writes with equal HLC timestamps, so it must be the same on every replica.
///
/// ```swift
/// let id = ReplicaID(hex: "0123456789abcdef0123456789abcdef")!
/// print(id)            // 0123456789abcdef0123456789abcdef
/// ```
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The high 64 bits (bytes 0–7 on the wire).
    public var high: UInt64
    /// The low 64 bits (bytes 8–15 on the wire).
    public var low: UInt64

    /// Creates an id from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Creates a fresh random id.
    /// - Parameter generator: the randomness source; tests pass a seeded generator.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> ReplicaID {
        ReplicaID(high: generator.next(), low: generator.next())
    }

    /// Creates a fresh id from the system's secure generator.
    public static func random() -> ReplicaID {
        var g = SystemRandomNumberGenerator()
        return random(using: &g)
    }

    /// Parses 32 hexadecimal digits (upper or lower case, no separators).
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, c) in hex.utf8.enumerated() {
            guard let nibble = hexValue(c) else { return nil }
            if i < 16 { high = high << 4 | UInt64(nibble) } else { low = low << 4 | UInt64(nibble) }
        }
        self.init(high: high, low: low)
    }

    /// The id as 16 big-endian bytes, as it travels on the wire.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    /// Reads an id from 16 big-endian bytes.
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        precondition(bytes.count == 16, "a replica id is 16 bytes")
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { high = high << 8 | UInt64(b) } else { low = low << 8 | UInt64(b) }
        }
        self.init(high: high, low: low)
    }

    /// 32 lower-case hexadecimal digits.
    public var description: String { hex(high) + hex(low) }

    /// The first 8 hex digits, for tables meant for people.
    public var short: String { String(description.prefix(8)) }

    public static func < (a: ReplicaID, b: ReplicaID) -> Bool {
        (a.high, a.low) < (b.high, b.low)
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}

private func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
