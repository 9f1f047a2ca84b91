import SyncCore

/// The bundle's character table: every Unicode scalar used by its texts, most frequent first.
///
/// Texts travel as one code per scalar: index `i < 240` is one byte; `i < 4080` is two bytes
/// `0xF0 + (i-240)>>8, (i-240)&0xFF`; anything larger is `0xFF` followed by the varint `i-4080`.
/// Chinese text costs one byte per character instead of UTF-8's three before zlib even starts, which is
/// what brings a field change under 25 compressed bytes.
struct CharacterTable {
    static let oneByte = 0xF0
    static let twoByte = oneByte + 15 * 256

    /// Scalars by code.
    private(set) var scalars: [UInt32] = []
    /// UTF-8 of each scalar, by code (decoding).
    private var utf8: [[UInt8]] = []
    /// Code of each scalar, encoding.
    private var codes: [UInt32: Int] = [:]

    /// Builds the table for encoding from every text the bundle will carry.
    init(counting texts: some Sequence<String>) {
        var counts: [UInt32: Int] = [:]
        for t in texts {
            for s in t.unicodeScalars { counts[s.value, default: 0] += 1 }
        }
        scalars = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        codes.reserveCapacity(scalars.count)
        for (code, s) in scalars.enumerated() { codes[s] = code }
    }

    /// Builds the table for decoding.
    init(decoding scalars: [UInt32]) throws(SyncError) {
        self.scalars = scalars
        var seen = Set<UInt32>()
        utf8.reserveCapacity(scalars.count)
        for s in scalars {
            // No text holds NUL: SQLite's text reads stop at it, so a NUL would cut the value short on every replica.
            guard s != 0, let u = Unicode.Scalar(s), seen.insert(s).inserted else {
                throw SyncError(.malformed, "the character table holds NUL, an invalid scalar or a repeated one")
            }
            utf8.append(Array(String(Character(u)).utf8))
        }
    }

    func write(_ text: String, to w: inout ByteWriter) {
        w.varint(UInt64(text.unicodeScalars.count))
        for s in text.unicodeScalars {
            let code = codes[s.value]!
            if code < Self.oneByte {
                w.byte(UInt8(code))
            } else if code < Self.twoByte {
                let rest = code - Self.oneByte
                w.byte(UInt8(Self.oneByte + rest >> 8))
                w.byte(UInt8(truncatingIfNeeded: rest))
            } else {
                w.byte(0xFF)
                w.varint(UInt64(code - Self.twoByte))
            }
        }
    }

    func read(from src: PayloadSource, maxBytes: Int) throws(SyncError) -> String {
        let n = try src.count(below: maxBytes + 1, .valueTooLarge, "a text's length")
        var out: [UInt8] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let b = Int(try src.byte())
            let code: Int
            if b < Self.oneByte {
                code = b
            } else if b < 0xFF {
                code = Self.oneByte + (b - Self.oneByte) << 8 + Int(try src.byte())
            } else {
                code = Self.twoByte + (try src.count(below: max(1, utf8.count - Self.twoByte), .malformed, "a character code"))
            }
            guard code < utf8.count else { throw SyncError(.malformed, "a character code is outside the table") }
            out.append(contentsOf: utf8[code])
            if out.count > maxBytes { throw SyncError(.valueTooLarge, "a text is over \(maxBytes) bytes") }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
