import SyncCore

/// Pulls payload bytes out of an `Inflater` on demand, keeping only a small window in memory.
///
/// Every read that runs past the end of the payload throws `truncated`; the parser never sees a partial
/// value.
final class PayloadSource {
    private var buffer: [UInt8] = []
    private var pos = 0
    private let inflater: Inflater

    init(inflater: Inflater) {
        self.inflater = inflater
        buffer.reserveCapacity(min(128 << 10, inflater.limit + 1))
    }

    /// Makes at least `n` unread bytes available.
    @inline(__always)
    private func ensure(_ n: Int) throws(SyncError) {
        if buffer.count - pos >= n { return }
        try refill(n)
    }

    private func refill(_ n: Int) throws(SyncError) {
        if pos > 0 {
            buffer.removeSubrange(0..<pos)
            pos = 0
        }
        while buffer.count < n {
            if try inflater.inflate(into: &buffer, chunk: max(n - buffer.count, inflater.suggestedChunk)) == 0 {
                throw SyncError(.truncated, "the payload ends in the middle of a record")
            }
        }
    }

    /// Bytes inflated so far.
    var produced: Int { inflater.produced }

    /// Whether every payload byte has been read.
    func atEnd() throws(SyncError) -> Bool {
        if pos < buffer.count { return false }
        buffer.removeAll(keepingCapacity: true)
        pos = 0
        while buffer.isEmpty {
            if try inflater.inflate(into: &buffer, chunk: inflater.suggestedChunk) == 0 { return true }
        }
        return false
    }

    @inline(__always)
    func byte() throws(SyncError) -> UInt8 {
        try ensure(1)
        defer { pos += 1 }
        return buffer[pos]
    }

    func varint() throws(SyncError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw SyncError(.malformed, "a varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 {
                // One encoding per number: a final zero byte after others is an over-long varint.
                if b == 0 && shift > 0 { throw SyncError(.malformed, "a varint is not in its shortest form") }
                return result
            }
            shift += 7
            if shift > 63 { throw SyncError(.malformed, "a varint overflows 64 bits") }
        }
    }

    /// A varint that must fit `0..<bound`.
    func count(below bound: Int, _ code: SyncError.Code, _ what: @autoclosure () -> String) throws(SyncError) -> Int {
        let v = try varint()
        guard v < UInt64(bound) else { throw SyncError(code, "\(what()) (\(v)) is over the limit of \(bound - 1)") }
        return Int(v)
    }

    func bytes(_ n: Int) throws(SyncError) -> ArraySlice<UInt8> {
        try ensure(n)
        defer { pos += n }
        return buffer[pos..<pos + n]
    }
}
