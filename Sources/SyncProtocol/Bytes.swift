import SyncCore

/// An append-only byte buffer with the wire format's primitive encodings.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer.
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// One byte.
    public mutating func byte(_ b: UInt8) { bytes.append(b) }

    /// Raw bytes.
    public mutating func raw(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }

    /// An unsigned LEB128 varint.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A signed integer as a zig-zag varint.
    public mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// A big-endian 32-bit integer.
    public mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}

/// Reads primitives from a fixed byte array, for the envelope header.
struct HeaderReader {
    let bytes: [UInt8]
    var pos = 0

    mutating func u32() -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 { v = v << 8 | UInt32(bytes[pos]); pos += 1 }
        return v
    }
}

/// Decodes a zig-zag varint payload.
func unzigzag(_ v: UInt64) -> Int64 {
    Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
}

