import CSystemZlib
import Foundation
import SyncCore
import SyncProtocol
import SyncTesting
import Testing

@Suite struct CodecTests {
    static let samples = SampleChangeSets.all.map(\.1)

    @Test(arguments: 0..<samples.count)
    func roundTrip(index: Int) throws {
        let cs = Self.samples[index]
        let bytes = ChangeSetEncoder().encode(cs)
        #expect(try ChangeSetReader.decode(bytes) == cs)
        var reader = try ChangeSetReader(bytes: bytes)
        var streamed = 0
        while try reader.next() != nil { streamed += 1 }
        #expect(streamed == cs.rows.count)
    }

    @Test(arguments: 0..<samples.count)
    func everyTruncationIsRejected(index: Int) throws {
        let bytes = ChangeSetEncoder().encode(Self.samples[index])
        for n in 0..<bytes.count {
            #expect(throws: SyncError.self, "prefix of \(n) bytes") { try ChangeSetReader.decode(Array(bytes[..<n])) }
        }
    }

    @Test(arguments: 0..<samples.count)
    func everyFlippedByteIsRejected(index: Int) throws {
        let bytes = ChangeSetEncoder().encode(Self.samples[index])
        for i in 0..<bytes.count {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[i] ^= mask
                #expect(throws: SyncError.self, "byte \(i) ^ \(mask)") { try ChangeSetReader.decode(damaged) }
            }
        }
    }

    @Test func appendedBytesAreRejected() {
        let bytes = ChangeSetEncoder().encode(Self.samples[0]) + [0]
        #expect(throws: SyncError.self) { try ChangeSetReader.decode(bytes) }
    }

    /// A bundle whose payload is 1 GiB of zeros (a 1 MiB zlib stream). Whatever its header declares, it is
    /// rejected in well under a second, and never inflates more than the declared size plus one 64 KiB chunk.
    @Test func decompressionBombIsRejectedFast() throws {
        let stream = zerosStream(bytes: 1 << 30)
        let cases: [(declared: UInt32, codes: Set<SyncError.Code>)] = [
            (1 << 30, [.decompressedTooLarge]),  // honest: over the 256 MiB limit, rejected from the header
            (200 << 20, [.expansionRatioExceeded, .malformed, .decompressedTooLarge]),  // under the size limit
            (4096, [.decompressedTooLarge, .malformed]),  // lying: stops after the first chunk
        ]
        for c in cases {
            let bomb = Bomb.bundle(compressed: stream, declaredPlain: c.declared)
            let start = ContinuousClock.now
            #expect(performing: { try ChangeSetReader.decode(bomb) }, throws: { error in
                guard let code = (error as? SyncError)?.code else { return false }
                return c.codes.contains(code)
            })
            #expect(ContinuousClock.now - start < .seconds(1), "declared \(c.declared)")
        }
    }

    @Test func limitsHaveTheirOwnErrors() throws {
        let cs = SampleChangeSets.all[1].1
        let bytes = ChangeSetEncoder().encode(cs)
        var small = ChangeSetLimits()
        small.maxCompressedBytes = 10
        #expect(code(bytes, small) == .compressedTooLarge)
        small = ChangeSetLimits()
        small.maxDecompressedBytes = 10
        #expect(code(bytes, small) == .decompressedTooLarge)
        small = ChangeSetLimits()
        small.maxValueBytes = 8
        #expect(code(bytes, small) == .valueTooLarge)
        small = ChangeSetLimits()
        small.maxVersionVectorEntries = 1
        #expect(code(bytes, small) == .versionVectorTooLarge)
        small = ChangeSetLimits()
        small.maxExpansionRatio = 1
        #expect(code(bytes, small) == .expansionRatioExceeded)
        var wrongVersion = bytes
        wrongVersion[4] = 2
        #expect(code(wrongVersion, .default) == .unsupportedVersion)
        #expect(code(Array("hello world, not a bundle at all, no no no".utf8), .default) == .badMagic)
    }

    private func code(_ bytes: [UInt8], _ limits: ChangeSetLimits) -> SyncError.Code? {
        do {
            _ = try ChangeSetReader.decode(bytes, limits: limits)
            return nil
        } catch {
            return error.code
        }
    }
}


@Suite struct CanonicalFormTests {
    /// `0x81 0x00` is an over-long 1: the reader accepts only the shortest encoding of every number.
    @Test func overLongVarintsAreRejected() throws {
        let cs = SampleChangeSets.all[0].1
        var payload = ChangeSetEncoder().payload(cs)
        // The payload starts with fromSeq = 0 (one byte 0x00); encode it over-long as 0x80 0x00.
        #expect(payload[0] == 0)
        payload.replaceSubrange(0..<1, with: [0x80, 0x00])
        let bundle = Bomb.bundle(compressed: Zlib.compress(payload, level: 6), declaredPlain: UInt32(payload.count),
                                 sender: cs.sender)
        #expect(throws: SyncError.self) { try ChangeSetReader.decode(bundle) }
        // The same payload with the canonical byte decodes.
        payload.replaceSubrange(0..<2, with: [0x00])
        let good = Bomb.bundle(compressed: Zlib.compress(payload, level: 6), declaredPlain: UInt32(payload.count),
                               sender: cs.sender)
        #expect(try ChangeSetReader.decode(good).rows == cs.rows)
    }
}
