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
    /// Code of each BMP scalar + 1 (0 = absent), encoding.
    private var bmp: [Int32] = []
    private var astral: [UInt32: Int32] = [:]

    /// Builds the table for encoding from every text the bundle will carry.
    init(counting texts: some Sequence<String>) {
        var counts = [Int](repeating: 0, count: 0x10000)
        var astralCounts: [UInt32: Int] = [:]
        for t in texts {
            for s in t.unicodeScalars {
                if s.value < 0x10000 { counts[Int(s.value)] += 1 } else { astralCounts[s.value, default: 0] += 1 }
            }
        }
        var used: [(UInt32, Int)] = []
        for (scalar, n) in counts.enumerated() where n > 0 { used.append((UInt32(scalar), n)) }
        for (scalar, n) in astralCounts { used.append((scalar, n)) }
        used.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        scalars = used.map(\.0)
        bmp = [Int32](repeating: 0, count: 0x10000)
        for (code, s) in scalars.enumerated() {
            if s < 0x10000 { bmp[Int(s)] = Int32(code + 1) } else { astral[s] = Int32(code) }
        }
    }

    /// Builds the table for decoding.
    init(decoding scalars: [UInt32]) throws(SyncError) {
        self.scalars = scalars
        var seen = Set<UInt32>()
        utf8.reserveCapacity(scalars.count)
        for s in scalars {
            guard let u = Unicode.Scalar(s), seen.insert(s).inserted else {
                throw SyncError(.malformed, "the character table holds an invalid or repeated scalar")
            }
            utf8.append(Array(String(Character(u)).utf8))
        }
    }

    func write(_ text: String, to w: inout ByteWriter) {
        w.varint(UInt64(text.unicodeScalars.count))
        for s in text.unicodeScalars {
            let code = s.value < 0x10000 ? Int(bmp[Int(s.value)]) - 1 : Int(astral[s.value]!)
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
                code = Self.twoByte + Int(try src.count(below: Int.max, .malformed, "a character code"))
            }
            guard code < utf8.count else { throw SyncError(.malformed, "a character code is outside the table") }
            out.append(contentsOf: utf8[code])
            if out.count > maxBytes { throw SyncError(.valueTooLarge, "a text is over \(maxBytes) bytes") }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
