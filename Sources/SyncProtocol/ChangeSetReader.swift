public import SyncCore

/// Reads a v1 bundle as a stream of rows (`protocol/SPEC.md` §5–§7).
///
/// `init` checks the envelope (magic, version, sizes against the limits, CRC-32) and reads the payload
/// preamble; `next()` then inflates only as much as the next row needs, so memory stays bounded by the
/// largest row, whatever the bundle size. Every malformed, truncated or oversized input throws a
/// `SyncError` with its own code; nothing is returned half-read.
///
/// ```swift
/// var reader = try ChangeSetReader(bytes: file)
/// while let row = try reader.next() { apply(row) }
/// ```
public struct ChangeSetReader {
    /// The sending replica.
    public let sender: ReplicaID
    /// The sender's sequence range covered (exclusive lower bound).
    public let fromSeq: UInt64
    /// The sender's sequence range covered (inclusive upper bound).
    public let toSeq: UInt64
    /// What the sender has received from its peers.
    public let acks: [ChangeSet.Ack]
    /// Size of the uncompressed payload as declared.
    public let payloadBytes: Int
    /// Size of the compressed payload.
    public let compressedBytes: Int
    /// The trailer's bytes (§5.2): empty, or signature entries.
    public let trailer: [UInt8]
    /// The writer's signature from the trailer, checked against the bundle's bytes; nil when unsigned (or when
    /// the trailer is not a well-formed entry sequence, which v1 readers otherwise ignore).
    public let signature: BundleSignature?

    private let limits: ChangeSetLimits
    private let src: PayloadSource
    private let replicas: [ReplicaID]
    private let chars: CharacterTable
    private let authors: [String]
    private let basePhysical: UInt64
    private var table: String?
    private var fields: [String] = []
    private var previousKey: [UInt8] = []
    private var ended = false
    /// Rows read up to their values; completed by the next VALUES record.
    private var pending: [PendingRow] = []
    private var ready: [RowChange] = []
    private var readyIndex = 0

    private struct PendingRow {
        var key: String
        var covered: [CoveredChange]
        /// Versions in wire order, values not yet read.
        var fields: [PendingField]
    }

    private struct PendingField {
        var name: String
        var versions: [FieldVersion]
    }

    /// Checks the envelope and reads the preamble.
    /// - Throws: `SyncError` (`bad_magic`, `unsupported_version`, `truncated`, `compressed_too_large`,
    ///   `decompressed_too_large`, `expansion_ratio_exceeded`, `checksum_mismatch`, `malformed`, …).
    public init(bytes: [UInt8], limits: ChangeSetLimits = .default) throws(SyncError) {
        self.limits = limits
        try limits.check(bytes.count <= limits.maxCompressedBytes, .compressedTooLarge,
                         "the bundle is \(bytes.count) bytes; the limit is \(limits.maxCompressedBytes)")
        try limits.check(bytes.count >= 4 && Array(bytes[0..<4]) == Envelope.magic || bytes.count < 4 && bytes == Array(Envelope.magic.prefix(bytes.count)),
                         .badMagic, "this is not a daiban bundle")
        try limits.check(bytes.count >= Envelope.headerSize, .truncated,
                         "the bundle is \(bytes.count) bytes, shorter than its \(Envelope.headerSize)-byte header")
        try limits.check(bytes[4] == Envelope.version, .unsupportedVersion,
                         "bundle format \(bytes[4]) is not supported (this build reads format \(Envelope.version))")
        try limits.check(bytes[5] == 0 && bytes[6] == 0 && bytes[7] == 0, .unsupportedVersion,
                         "the bundle uses flags this build does not know")
        sender = ReplicaID(bytes: bytes[8..<24])
        var h = HeaderReader(bytes: bytes, pos: 24)
        let plain = Int(h.u32())
        let compressed = Int(h.u32())
        let trailerLength = Int(h.u32())
        let crc = h.u32()
        let total = Envelope.headerSize + compressed + trailerLength
        try limits.check(plain <= limits.maxDecompressedBytes, .decompressedTooLarge,
                         "the payload declares \(plain) bytes; the limit is \(limits.maxDecompressedBytes)")
        try limits.check(plain <= max(compressed, 1) * limits.maxExpansionRatio, .expansionRatioExceeded,
                         "the payload declares a \(plain / max(compressed, 1))× expansion; the limit is \(limits.maxExpansionRatio)×")
        try limits.check(bytes.count >= total, .truncated,
                         "the bundle is \(bytes.count) bytes but declares \(total)")
        try limits.check(bytes.count == total, .malformed,
                         "\(bytes.count - total) bytes follow the end of the bundle")
        let payloadEnd = Envelope.headerSize + compressed
        try limits.check(Zlib.crc32([bytes[0..<36], bytes[Envelope.headerSize..<total]]) == crc, .checksumMismatch,
                         "the bundle's checksum does not match: it was damaged")
        payloadBytes = plain
        compressedBytes = compressed
        trailer = Array(bytes[payloadEnd..<total])
        signature = Self.signature(bytes, payloadEnd: payloadEnd, total: total)
        let inflater = try Inflater(input: bytes, range: Envelope.headerSize..<payloadEnd, limit: plain) { produced in
            SyncError(.decompressedTooLarge, "the payload inflates past its declared \(plain) bytes (\(produced) so far)")
        }
        src = PayloadSource(inflater: inflater)

        fromSeq = try src.varint()
        toSeq = try src.varint()
        try limits.check(fromSeq <= toSeq, .malformed, "the sequence range is reversed")
        try limits.check(toSeq <= VersionVector.maxCounter, .counterOutOfRange,
                         "the sequence range ends beyond \(VersionVector.maxCounter)")
        let nReplicas = try src.count(below: limits.maxReplicas + 1, .tooManyItems, "the replica count")
        var replicas: [ReplicaID] = []
        replicas.reserveCapacity(nReplicas)
        for i in 0..<nReplicas {
            let id = ReplicaID(bytes: try src.bytes(16))
            try limits.check(i == 0 || replicas[i - 1] < id, .malformed, "the replica dictionary is not sorted")
            replicas.append(id)
        }
        try limits.check(replicas.contains(sender), .malformed, "the replica dictionary lacks the sender")
        self.replicas = replicas
        let nAcks = try src.count(below: nReplicas + 1, .malformed, "the ack count")
        var acks: [ChangeSet.Ack] = []
        for _ in 0..<nAcks {
            let idx = try src.count(below: nReplicas, .malformed, "an ack's replica index")
            try limits.check(acks.last.map { $0.replica < replicas[idx] } ?? true, .malformed, "acks are not sorted")
            let seq = try src.varint()
            try limits.check(seq <= VersionVector.maxCounter, .counterOutOfRange, "an acknowledged sequence number is out of range")
            acks.append(ChangeSet.Ack(replica: replicas[idx], seq: seq))
        }
        self.acks = acks
        let nChars = try src.count(below: limits.maxCharacters + 1, .tooManyItems, "the character count")
        var scalars: [UInt32] = []
        scalars.reserveCapacity(nChars)
        for _ in 0..<nChars {
            scalars.append(UInt32(try src.count(below: 0x110000, .malformed, "a character")))
        }
        chars = try CharacterTable(decoding: scalars)
        let nAuthors = try src.count(below: limits.maxNames + 1, .tooManyItems, "the author count")
        var authors = [""]
        for _ in 0..<nAuthors { authors.append(try chars.read(from: src, maxBytes: limits.maxKeyBytes)) }
        self.authors = authors
        basePhysical = try src.varint()
    }

    /// The verified signature entry of a trailer, if any.
    private static func signature(_ bytes: [UInt8], payloadEnd: Int, total: Int) -> BundleSignature? {
        guard payloadEnd < total, let entries = BundleTrailer.entries(bytes[payloadEnd..<total]),
              let entry = entries.first(where: { $0.type == BundleTrailer.signatureType }),
              entry.body.count == BundleTrailer.signatureBody
        else { return nil }
        let body = Array(entry.body)
        let key = Array(body[0..<32])
        let message = BundleTrailer.message(header36: bytes[0..<36], payload: bytes[Envelope.headerSize..<payloadEnd])
        return BundleSignature(publicKey: key, isValid: verifySignature(Array(body[32...]), of: message, publicKey: key))
    }

    /// Decodes a whole bundle into memory.
    public static func decode(_ bytes: [UInt8], limits: ChangeSetLimits = .default) throws(SyncError) -> ChangeSet {
        var r = try ChangeSetReader(bytes: bytes, limits: limits)
        var rows: [RowChange] = []
        while let row = try r.next() { rows.append(row) }
        return ChangeSet(sender: r.sender, fromSeq: r.fromSeq, toSeq: r.toSeq, acks: r.acks, rows: rows)
    }

    /// The next row, or `nil` after the end record (which must close the payload).
    public mutating func next() throws(SyncError) -> RowChange? {
        if readyIndex < ready.count {
            readyIndex += 1
            return ready[readyIndex - 1]
        }
        while !ended {
            switch try src.byte() {
            case RecordTag.end:
                try limits.check(pending.isEmpty, .malformed, "rows lack their values record")
                ended = true
                try limits.check(try src.atEnd(), .malformed, "bytes follow the end record")
                try limits.check(src.produced == payloadBytes, .malformed,
                                 "the payload is \(src.produced) bytes but declares \(payloadBytes)")
                return nil
            case RecordTag.table:
                try limits.check(pending.isEmpty, .malformed, "rows lack their values record")
                let name = try chars.read(from: src, maxBytes: limits.maxKeyBytes)
                try limits.check(Names.isValid(name), .badName, "a table name is not lower-case ASCII (a–z, 0–9, _)")
                try limits.check(table.map { utf8Less($0, name) } ?? true, .malformed, "tables are not sorted")
                let n = try src.count(below: limits.maxNames + 1, .tooManyItems, "the field count of table \(name)")
                var names: [String] = []
                for _ in 0..<n {
                    let f = try chars.read(from: src, maxBytes: limits.maxKeyBytes)
                    try limits.check(Names.isValid(f), .badName, "a field name of table \(name) is not lower-case ASCII (a–z, 0–9, _)")
                    try limits.check(names.last.map { utf8Less($0, f) } ?? true, .malformed, "field names are not sorted")
                    names.append(f)
                }
                table = name
                fields = names
                previousKey = []
            case RecordTag.row:
                guard table != nil else { throw SyncError(.malformed, "a row comes before any table") }
                try limits.check(pending.count < limits.maxRowsPerGroup, .tooManyItems,
                                 "more than \(limits.maxRowsPerGroup) rows precede their values")
                pending.append(try readRow())
            case RecordTag.values:
                guard let table, !pending.isEmpty else { throw SyncError(.malformed, "a values record follows no row") }
                let rows = try completeRows(table: table)
                ready = rows
                pending = []
                readyIndex = 1
                return ready[0]
            case let tag:
                throw SyncError(.malformed, "unknown record tag \(tag)")
            }
        }
        return nil
    }

    /// Reads the VALUES record of the pending rows and builds their changes.
    private func completeRows(table: String) throws(SyncError) -> [RowChange] {
        var rows: [RowChange] = []
        rows.reserveCapacity(pending.count)
        for p in pending {
            var changes: [FieldChange] = []
            changes.reserveCapacity(p.fields.count)
            for f in p.fields {
                var versions = f.versions
                for i in versions.indices { versions[i].value = try readValue() }
                changes.append(FieldChange(name: f.name, state: FieldState(normalizing: versions)))
            }
            rows.append(RowChange(table: table, key: p.key, fields: changes, covered: p.covered))
        }
        return rows
    }

    private mutating func readRow() throws(SyncError) -> PendingRow {
        let shared = try src.count(below: previousKey.count + 1, .malformed, "a key's shared prefix")
        try limits.check(shared == previousKey.count || previousKey[shared] & 0xC0 != 0x80, .malformed,
                         "a key's shared prefix splits a character")
        let suffix = try chars.read(from: src, maxBytes: limits.maxKeyBytes)
        var keyBytes = Array(previousKey[..<shared])
        keyBytes.append(contentsOf: suffix.utf8)
        try limits.check(keyBytes.count <= limits.maxKeyBytes, .valueTooLarge, "a row key is over \(limits.maxKeyBytes) bytes")
        try limits.check(previousKey.isEmpty && !keyBytes.isEmpty || previousKey.lexicographicallyPrecedes(keyBytes),
                         .malformed, "row keys are empty or not sorted")
        previousKey = keyBytes
        let key = String(decoding: keyBytes, as: UTF8.self)

        let nCovered = try src.count(below: fields.count + 1, .malformed, "a row's covered count")
        var covered: [CoveredChange] = []
        var last = -1
        for _ in 0..<nCovered {
            let idx = try src.count(below: fields.count, .malformed, "a field index")
            try limits.check(idx > last, .malformed, "covered fields are not sorted")
            last = idx
            let vv = try readVV()
            try limits.check(!vv.isEmpty, .malformed, "a covered version vector is empty")
            covered.append(CoveredChange(field: fields[idx], vv: vv))
        }
        let nFields = try src.count(below: fields.count + 1, .malformed, "a row's field count")
        var changes: [PendingField] = []
        changes.reserveCapacity(nFields)
        last = -1
        for _ in 0..<nFields {
            let idx = try src.count(below: fields.count, .malformed, "a field index")
            try limits.check(idx > last, .malformed, "fields are not sorted")
            last = idx
            let nVersions = try src.count(below: limits.maxVersionsPerField + 1, .tooManyItems,
                                          "the version count of field \(fields[idx])")
            try limits.check(nVersions > 0, .malformed, "field \(fields[idx]) has no version")
            var versions: [FieldVersion] = []
            for _ in 0..<nVersions {
                let vv = try readVV()
                try limits.check(!vv.isEmpty, .malformed, "a version has an empty version vector")
                let delta = try src.varint()
                let (physical, overflow) = basePhysical.addingReportingOverflow(delta)
                try limits.check(!overflow && physical < 1 << 48, .malformed, "a timestamp is out of range")
                let logical = try src.count(below: 1 << 16, .malformed, "a logical clock")
                let writer = replicas[try src.count(below: replicas.count, .malformed, "a writer index")]
                let author = authors[try src.count(below: authors.count, .malformed, "an author index")]
                try limits.check(vv[writer] > 0, .malformed, "a version's vector lacks its writer")
                versions.append(FieldVersion(value: .null, vv: vv,
                                             hlc: HLCTimestamp(physical: physical, logical: UInt16(logical)),
                                             writer: writer, author: author))
            }
            try limits.check(FieldState(normalizing: versions).versions.count == versions.count, .malformed,
                             "field \(fields[idx]) carries versions that dominate each other")
            changes.append(PendingField(name: fields[idx], versions: versions))
        }
        try limits.check(nFields + nCovered > 0, .malformed, "a row carries no change")
        return PendingRow(key: key, covered: covered, fields: changes)
    }

    private func readVV() throws(SyncError) -> VersionVector {
        let n = try src.count(below: limits.maxVersionVectorEntries + 1, .versionVectorTooLarge,
                              "a version vector's entry count")
        var entries: [VersionVector.Entry] = []
        entries.reserveCapacity(n)
        var last = -1
        for _ in 0..<n {
            let idx = try src.count(below: replicas.count, .malformed, "a replica index")
            try limits.check(idx > last, .malformed, "version vector entries are not sorted")
            last = idx
            let counter = try src.varint()
            try limits.check(counter > 0, .malformed, "a version vector holds a zero counter")
            try limits.check(counter <= VersionVector.maxCounter, .counterOutOfRange,
                             "a version vector counter is above \(VersionVector.maxCounter)")
            entries.append(VersionVector.Entry(replica: replicas[idx], counter: counter))
        }
        return VersionVector(sortedEntries: entries)!
    }

    private func readValue() throws(SyncError) -> FieldValue {
        switch try src.byte() {
        case ValueTag.null: return .null
        case ValueTag.boolFalse: return .bool(false)
        case ValueTag.boolTrue: return .bool(true)
        case ValueTag.int: return .int(unzigzag(try src.varint()))
        case ValueTag.text: return .text(try chars.read(from: src, maxBytes: limits.maxValueBytes))
        case ValueTag.decimal:
            let text = try chars.read(from: src, maxBytes: limits.maxValueBytes)
            guard let canonical = FieldValue.canonicalDecimal(text), canonical == text else {
                throw SyncError(.malformed, "a decimal value is not canonical")
            }
            return .decimal(text)
        case ValueTag.date:
            let d = unzigzag(try src.varint())
            guard let days = Int32(exactly: d), CivilDate.supportedDays.contains(days) else {
                throw SyncError(.malformed, "a date is outside years 0001–9999")
            }
            return .date(days)
        case let tag:
            throw SyncError(.malformed, "unknown value tag \(tag)")
        }
    }
}
