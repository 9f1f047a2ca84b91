import CSystemZlib
import SyncCore

/// zlib (RFC 1950) compression and bounded, incremental decompression.
public enum Zlib {
    /// Compresses `input` in one call at `level` (0–9).
    public static func compress(_ input: [UInt8], level: Int32) -> [UInt8] {
        var outLen = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(outLen))
        let rc = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &outLen, src.baseAddress, uLong(src.count), level)
            }
        }
        precondition(rc == Z_OK, "zlib compress2 failed with \(rc)")
        out.removeLast(out.count - Int(outLen))
        return out
    }

    /// CRC-32 (ISO-HDLC, as zlib computes it) over several byte ranges.
    public static func crc32(_ parts: [ArraySlice<UInt8>]) -> UInt32 {
        var crc = CSystemZlib.crc32(0, nil, 0)
        for part in parts where !part.isEmpty {  // zlib's crc32 with a NULL buffer returns the initial value
            crc = part.withUnsafeBufferPointer { CSystemZlib.crc32(crc, $0.baseAddress, uInt($0.count)) }
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}

/// Inflates a zlib stream chunk by chunk, stopping as soon as the output would cross `limit`.
final class Inflater {
    private var stream = z_stream()
    private let input: [UInt8]
    private let inputRange: Range<Int>
    let limit: Int
    private let limitError: (Int) -> SyncError
    private var open = false
    private(set) var finished = false
    /// A chunk size that never inflates much past the limit: at most 64 KiB, at least 1 KiB.
    var suggestedChunk: Int { max(1024, min(64 << 10, limit - produced + 1)) }
    /// Bytes produced so far.
    private(set) var produced = 0

    /// - Parameters:
    ///   - input: the buffer holding the compressed stream.
    ///   - range: where the stream lies in `input`.
    ///   - limit: the most bytes the stream may inflate to.
    ///   - limitError: the error to throw when it would inflate to more.
    init(input: [UInt8], range: Range<Int>, limit: Int, limitError: @escaping (Int) -> SyncError) throws(SyncError) {
        self.input = input
        self.inputRange = range
        self.limit = limit
        self.limitError = limitError
        let rc = inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw SyncError(.corruptStream, "zlib could not start (\(rc))") }
        open = true
    }

    deinit {
        if open { inflateEnd(&stream) }
    }

    /// Appends up to `chunk` inflated bytes to `out`.
    /// - Returns: the number of bytes appended (0 only once the stream has ended).
    func inflate(into out: inout [UInt8], chunk: Int = 64 << 10) throws(SyncError) -> Int {
        while !finished {
            let got = try inflateOnce(into: &out, chunk: chunk)
            if got > 0 { return got }
        }
        return 0
    }

    private func inflateOnce(into out: inout [UInt8], chunk: Int) throws(SyncError) -> Int {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: chunk))
        let consumedBefore = Int(stream.total_in)
        let rc: Int32 = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress! + inputRange.lowerBound + consumedBefore)
                stream.avail_in = uInt(inputRange.count - consumedBefore)
                stream.next_out = dst.baseAddress! + start
                stream.avail_out = uInt(chunk)
                return CSystemZlib.inflate(&stream, Z_NO_FLUSH)
            }
        }
        let got = chunk - Int(stream.avail_out)
        out.removeLast(Int(stream.avail_out))
        produced += got
        if produced > limit { throw limitError(produced) }
        switch rc {
        case Z_STREAM_END:
            finished = true
            if Int(stream.total_in) != inputRange.count {
                throw SyncError(.malformed, "bytes follow the end of the compressed payload")
            }
        case Z_OK:
            break
        case Z_BUF_ERROR where got == 0:
            throw SyncError(.truncated, "the compressed payload ends early")
        case Z_BUF_ERROR:
            break
        case Z_DATA_ERROR, Z_NEED_DICT:
            throw SyncError(.corruptStream, "the compressed payload is corrupt")
        default:
            throw SyncError(.corruptStream, "zlib failed (\(rc))")
        }
        return got
    }
}
