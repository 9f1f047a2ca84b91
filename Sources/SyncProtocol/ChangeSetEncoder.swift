public import SyncCore

/// Writes change-sets in the v1 bundle format (`protocol/SPEC.md` §5–§6).
///
/// ```swift
/// let bytes = ChangeSetEncoder().encode(changeSet)
/// let back = try ChangeSetReader.decode(bytes)
/// assert(back == changeSet)
/// ```
public struct ChangeSetEncoder: Sendable {
    /// zlib level, 0–9 (6 is zlib's default).
    public var level: Int32

    /// Creates an encoder.
    public init(level: Int32 = 6) { self.level = level }

    /// Rows per group: a VALUES record follows every group of this many rows, and each table's last rows.
    public static let rowsPerGroup = 1024

    /// The sizes of a payload's dictionaries, which the bundle limits bound (§7).
    public struct Stats: Hashable, Sendable {
        public var replicas = 0
        public var authors = 0
        public var characters = 0
        /// The largest field dictionary of one table.
        public var fieldNames = 0
        public var payloadBytes = 0
    }

    /// The uncompressed payload (§6), deterministic for a given change-set.
    public func payload(_ cs: ChangeSet) -> [UInt8] { payloadAndStats(cs).bytes }

    /// The payload and the sizes of its dictionaries.
    public func payloadAndStats(_ cs: ChangeSet) -> (bytes: [UInt8], stats: Stats) {
        // Dictionaries: replicas sorted by id, authors by UTF-8, characters by frequency. Authors are told apart
        // by their bytes (two spellings that differ only in Unicode normalization stay two authors).
        var replicaSet = Set<ReplicaID>([cs.sender])
        var authorSet = Set<ExactText>()
        var texts: [String] = []
        var minPhysical = UInt64.max
        for ack in cs.acks { replicaSet.insert(ack.replica) }
        var tables: [(name: String, fields: [String], rows: [RowChange])] = []
        for row in cs.rows {
            if tables.last?.name != row.table { tables.append((row.table, [], [])) }
            tables[tables.count - 1].rows.append(row)
            texts.append(row.key)
            for c in row.covered { for e in c.vv.entries { replicaSet.insert(e.replica) } }
            for f in row.fields {
                for v in f.state.versions {
                    replicaSet.insert(v.writer)
                    for e in v.vv.entries { replicaSet.insert(e.replica) }
                    if !v.author.isEmpty { authorSet.insert(ExactText(v.author)) }
                    minPhysical = min(minPhysical, v.hlc.physical)
                    switch v.value {
                    case .text(let s), .decimal(let s): texts.append(s)
                    default: break
                    }
                }
            }
        }
        for i in tables.indices {
            var names = Set<String>()
            for r in tables[i].rows {
                for f in r.fields { names.insert(f.name) }
                for c in r.covered { names.insert(c.field) }
            }
            tables[i].fields = names.sorted(by: utf8Less)
            texts.append(tables[i].name)
            texts.append(contentsOf: tables[i].fields)
        }
        let replicas = replicaSet.sorted()
        let replicaIndex = Dictionary(uniqueKeysWithValues: replicas.enumerated().map { ($1, $0) })
        let authors = authorSet.map(\.text).sorted(by: utf8Less)
        texts.append(contentsOf: authors)
        let authorIndex = Dictionary(uniqueKeysWithValues: authors.enumerated().map { (ExactText($1), $0 + 1) })
        let chars = CharacterTable(counting: texts)
        if minPhysical == .max { minPhysical = 0 }

        var w = ByteWriter(capacity: cs.fieldCount * 32 + 256)
        w.varint(cs.fromSeq)
        w.varint(cs.toSeq)
        w.varint(UInt64(replicas.count))
        for r in replicas { w.raw(r.bytes) }
        w.varint(UInt64(cs.acks.count))
        for a in cs.acks {
            w.varint(UInt64(replicaIndex[a.replica]!))
            w.varint(a.seq)
        }
        w.varint(UInt64(chars.scalars.count))
        for s in chars.scalars { w.varint(UInt64(s)) }
        w.varint(UInt64(authors.count))
        for a in authors { chars.write(a, to: &w) }
        w.varint(minPhysical)

        func vv(_ v: VersionVector) {
            w.varint(UInt64(v.entries.count))
            for e in v.entries {
                w.varint(UInt64(replicaIndex[e.replica]!))
                w.varint(e.counter)
            }
        }
        // Values travel in a VALUES record after each group of rows, apart from the clocks and vectors, so
        // that zlib codes the two kinds of bytes with separate Huffman tables (§6.3).
        var values = ByteWriter()
        var pendingRows = 0
        func flushValues() {
            guard pendingRows > 0 else { return }
            w.byte(RecordTag.values)
            w.raw(values.bytes)
            values = ByteWriter(capacity: values.bytes.count)
            pendingRows = 0
        }
        for table in tables {
            w.byte(RecordTag.table)
            chars.write(table.name, to: &w)
            w.varint(UInt64(table.fields.count))
            for f in table.fields { chars.write(f, to: &w) }
            let fieldIndex = Dictionary(uniqueKeysWithValues: table.fields.enumerated().map { ($1, $0) })
            var previousKey: [Unicode.Scalar] = []
            for row in table.rows {
                w.byte(RecordTag.row)
                let key = Array(row.key.unicodeScalars)
                var shared = 0
                while shared < min(key.count, previousKey.count) && key[shared] == previousKey[shared] { shared += 1 }
                let sharedBytes = previousKey[..<shared].reduce(0) { $0 + UTF8.width($1) }
                w.varint(UInt64(sharedBytes))
                var suffix = String.UnicodeScalarView()
                suffix.append(contentsOf: key[shared...])
                chars.write(String(suffix), to: &w)
                previousKey = key
                w.varint(UInt64(row.covered.count))
                for c in row.covered {
                    w.varint(UInt64(fieldIndex[c.field]!))
                    vv(c.vv)
                }
                w.varint(UInt64(row.fields.count))
                for f in row.fields {
                    w.varint(UInt64(fieldIndex[f.name]!))
                    w.varint(UInt64(f.state.versions.count))
                    for v in f.state.versions {
                        vv(v.vv)
                        w.varint(v.hlc.physical - minPhysical)
                        w.varint(UInt64(v.hlc.logical))
                        w.varint(UInt64(replicaIndex[v.writer]!))
                        w.varint(UInt64(v.author.isEmpty ? 0 : authorIndex[ExactText(v.author)]!))
                        writeValue(v.value, chars, &values)
                    }
                }
                pendingRows += 1
                if pendingRows == Self.rowsPerGroup { flushValues() }
            }
            flushValues()
        }
        w.byte(RecordTag.end)
        let stats = Stats(replicas: replicas.count, authors: authors.count, characters: chars.scalars.count,
                          fieldNames: tables.map(\.fields.count).max() ?? 0, payloadBytes: w.bytes.count)
        return (w.bytes, stats)
    }

    /// The whole bundle: header, zlib payload, and a trailer that is empty or holds the signer's signature.
    public func encode(_ cs: ChangeSet, signer: DeviceKey? = nil) -> [UInt8] {
        encodeWithStats(cs, signer: signer).bytes
    }

    /// The whole bundle and its payload's dictionary sizes.
    public func encodeWithStats(_ cs: ChangeSet, signer: DeviceKey? = nil) -> (bytes: [UInt8], stats: Stats) {
        let (plain, stats) = payloadAndStats(cs)
        return (Self.envelope(sender: cs.sender, plain: plain.count, compressed: Zlib.compress(plain, level: level),
                              signer: signer), stats)
    }

    /// Wraps a compressed payload in the header, and signs it when a key is given (§5, §5.2).
    static func envelope(sender: ReplicaID, plain: Int, compressed: [UInt8], signer: DeviceKey?) -> [UInt8] {
        var w = ByteWriter(capacity: Envelope.headerSize + compressed.count + BundleTrailer.signedLength)
        w.raw(Envelope.magic)
        w.byte(Envelope.version)
        w.byte(0)  // flags
        w.byte(0); w.byte(0)  // reserved
        w.raw(sender.bytes)
        w.u32(UInt32(plain))
        w.u32(UInt32(compressed.count))
        w.u32(signer == nil ? 0 : UInt32(BundleTrailer.signedLength))  // trailer length
        var out = w.bytes
        var trailer: [UInt8] = []
        if let signer {
            let message = BundleTrailer.message(header36: out[0..<36], payload: compressed[...])
            trailer = BundleTrailer.signatureEntry(publicKey: signer.publicKey, signature: signer.sign(message))
        }
        let crc = Zlib.crc32([out[0..<36], compressed[...], trailer[...]])
        out.append(contentsOf: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> $0) })
        out.append(contentsOf: compressed)
        out.append(contentsOf: trailer)
        return out
    }
}

func writeValue(_ value: FieldValue, _ chars: CharacterTable, _ w: inout ByteWriter) {
    switch value {
    case .null: w.byte(ValueTag.null)
    case .bool(let b): w.byte(b ? ValueTag.boolTrue : ValueTag.boolFalse)
    case .int(let i): w.byte(ValueTag.int); w.zigzag(i)
    case .text(let s): w.byte(ValueTag.text); chars.write(s, to: &w)
    case .decimal(let s): w.byte(ValueTag.decimal); chars.write(s, to: &w)
    case .date(let d): w.byte(ValueTag.date); w.zigzag(Int64(d))
    }
}

/// Record tags in the payload (§6.2).
enum RecordTag {
    static let end: UInt8 = 0
    static let table: UInt8 = 1
    static let row: UInt8 = 2
    static let values: UInt8 = 3
}

/// Value tags (§6.4).
enum ValueTag {
    static let null: UInt8 = 0
    static let boolFalse: UInt8 = 1
    static let boolTrue: UInt8 = 2
    static let int: UInt8 = 3
    static let text: UInt8 = 4
    static let decimal: UInt8 = 5
    static let date: UInt8 = 6
}

/// The fixed envelope (§5).
public enum Envelope {
    /// `DBCS`.
    public static let magic: [UInt8] = [0x44, 0x42, 0x43, 0x53]
    /// The format version this build writes and reads.
    public static let version: UInt8 = 1
    /// Bytes before the compressed payload.
    public static let headerSize = 40
}
