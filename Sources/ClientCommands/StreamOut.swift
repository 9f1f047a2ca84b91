#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#else
import Darwin
private let systemWrite = Darwin.write
#endif

/// Standard output through a byte buffer written out every 64 KiB: a report of 200,000 rows goes out as it is
/// formatted, without building one string of it first.
/// Call `flush()` at the end.
struct StreamOut {
    private var buffer: [UInt8] = []

    init() {
        buffer.reserveCapacity(1 << 16)
        fflush(nil)  // what `print` buffered goes first
    }

    mutating func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func write(_ byte: UInt8) { buffer.append(byte) }

    /// A JSON string literal (the escapes of `JSON.text`).
    mutating func jsonString(_ s: String) {
        var s = s
        s.withUTF8 { u in
            buffer.append(34)
            if !u.contains(where: { $0 < 32 || $0 == 34 || $0 == 92 }) {
                buffer.append(contentsOf: u)  // nothing to escape: the usual case
            } else {
                for b in u {
                    switch b {
                    case 34: buffer.append(contentsOf: [92, 34])
                    case 92: buffer.append(contentsOf: [92, 92])
                    case 10: buffer.append(contentsOf: [92, 110])
                    case 13: buffer.append(contentsOf: [92, 114])
                    case 9: buffer.append(contentsOf: [92, 116])
                    case 0..<32:
                        let hex = Array("0123456789abcdef".utf8)
                        buffer.append(contentsOf: [92, 117, 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
                    default: buffer.append(b)
                    }
                }
            }
            buffer.append(34)
        }
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        buffer.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = systemWrite(1, p.baseAddress! + off, p.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
