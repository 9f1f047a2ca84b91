import CSystemZlib
import SyncCore
import SyncProtocol

/// Builds a bundle around an arbitrary zlib stream with a valid checksum (an attacker can always do this).
public enum Bomb {
    public static func bundle(compressed: [UInt8], declaredPlain: UInt32, sender: ReplicaID = testReplica(9)) -> [UInt8] {
        var w = ByteWriter()
        w.raw(Envelope.magic)
        w.byte(Envelope.version)
        w.byte(0); w.byte(0); w.byte(0)
        w.raw(sender.bytes)
        w.u32(declaredPlain)
        w.u32(UInt32(compressed.count))
        w.u32(0)
        let header = w.bytes
        let crc = Zlib.crc32([header[...], compressed[...]])
        return header + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> $0) } + compressed
    }
}

/// A zlib stream of `bytes` zeros, built in 1 MiB steps so the test never holds the plain data.
public func zerosStream(bytes: Int) -> [UInt8] {
    var z = z_stream()
    precondition(deflateInit_(&z, 9, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&z) }
    let zeros = [UInt8](repeating: 0, count: 1 << 20)
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    for i in 0..<(bytes >> 20) {
        zeros.withUnsafeBufferPointer { src in
            z.next_in = UnsafeMutablePointer(mutating: src.baseAddress!)
            z.avail_in = uInt(src.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { dst in
                    z.next_out = dst.baseAddress!
                    z.avail_out = uInt(dst.count)
                    _ = deflate(&z, i == (bytes >> 20) - 1 ? Z_FINISH : Z_NO_FLUSH)
                    out.append(contentsOf: dst[0..<(dst.count - Int(z.avail_out))])
                }
            } while z.avail_out == 0 || (i == (bytes >> 20) - 1 && z.avail_in > 0)
        }
    }
    return out
}
