import Foundation
import SyncCore

/// Converts engine values to and from the JSON used by `protocol/vectors` (see protocol/SPEC.md §11).
///
/// Replicas are written as names (`"A"`, `"B"`, …) mapped to ids by the vector's `replicas` object;
/// timestamps as `"physical.logical"`; values as one-key objects such as `{"text": "棠下镇"}` or `{"int": 5}`.
public struct VectorJSON {
    public var names: [String: ReplicaID]

    public init(names: [String: ReplicaID]) { self.names = names }

    public init(json: Any?) throws {
        var names: [String: ReplicaID] = [:]
        for (k, v) in (json as? [String: String]) ?? [:] {
            guard let id = ReplicaID(hex: v) else { throw VectorError("bad replica id \(v)") }
            names[k] = id
        }
        self.names = names
    }

    public func name(_ id: ReplicaID) -> String { names.first { $0.value == id }?.key ?? id.description }

    public func replica(_ any: Any?) throws -> ReplicaID {
        guard let s = any as? String else { throw VectorError("replica must be a string") }
        if let id = names[s] ?? ReplicaID(hex: s) { return id }
        throw VectorError("unknown replica \(s)")
    }

    public static func value(_ any: Any?) throws -> FieldValue {
        guard let o = any as? [String: Any], let (k, v) = o.first, o.count == 1 else {
            throw VectorError("a value is a one-key object")
        }
        switch k {
        case "null": return .null
        case "bool": return .bool(v as! Bool)
        case "int": return .int((v as! NSNumber).int64Value)
        case "decimal": return .decimal(v as! String)
        case "text": return .text(v as! String)
        case "date":
            guard let d = CivilDate(iso: v as! String) else { throw VectorError("bad date") }
            return .date(d.daysSinceEpoch)
        default: throw VectorError("unknown value type \(k)")
        }
    }

    public static func json(_ v: FieldValue) -> Any {
        switch v {
        case .null: ["null": true]
        case .bool(let b): ["bool": b]
        case .int(let i): ["int": i]
        case .decimal(let d): ["decimal": d]
        case .text(let s): ["text": s]
        case .date: ["date": v.displayText]
        }
    }

    public func vv(_ any: Any?) throws -> VersionVector {
        var pairs: [(ReplicaID, UInt64)] = []
        for (k, v) in (any as? [String: Any]) ?? [:] { pairs.append((try replica(k), (v as! NSNumber).uint64Value)) }
        return VersionVector(pairs)
    }

    public func json(_ vv: VersionVector) -> Any {
        Dictionary(uniqueKeysWithValues: vv.entries.map { (name($0.replica), $0.counter) })
    }

    public static func hlc(_ any: Any?) throws -> HLCTimestamp {
        guard let s = any as? String, let dot = s.firstIndex(of: "."), let p = UInt64(s[..<dot]),
            let l = UInt16(s[s.index(after: dot)...])
        else { throw VectorError("hlc is \"physical.logical\"") }
        return HLCTimestamp(physical: p, logical: l)
    }

    public func version(_ any: Any?) throws -> FieldVersion {
        guard let o = any as? [String: Any] else { throw VectorError("a version is an object") }
        return FieldVersion(value: try Self.value(o["value"]), vv: try vv(o["vv"]), hlc: try Self.hlc(o["hlc"]),
                            writer: try replica(o["writer"]), author: o["author"] as? String ?? "")
    }

    public func json(_ v: FieldVersion) -> Any {
        ["value": Self.json(v.value), "vv": json(v.vv), "hlc": v.hlc.description, "writer": name(v.writer),
         "author": v.author]
    }

    /// `{"fields": {name: [versions]}, "covered": {name: vv}}`.
    public func row(_ any: Any?) throws -> RowState {
        let o = any as? [String: Any] ?? [:]
        var row = RowState()
        for (name, versions) in o["fields"] as? [String: Any] ?? [:] {
            row.fields[name] = FieldState(normalizing: try (versions as! [Any]).map(version))
        }
        for (name, v) in o["covered"] as? [String: Any] ?? [:] { row.covered[name] = try vv(v) }
        return row
    }

    public func json(_ row: RowState) -> Any {
        var o: [String: Any] = ["fields": row.fields.mapValues { $0.versions.map(json) }]
        if !row.covered.isEmpty { o["covered"] = row.covered.mapValues(json) }
        return o
    }

    public func changeSet(_ any: Any?) throws -> ChangeSet {
        guard let o = any as? [String: Any] else { throw VectorError("a change-set is an object") }
        let acks = try (o["acks"] as? [String: Any] ?? [:]).map {
            ChangeSet.Ack(replica: try replica($0.key), seq: ($0.value as! NSNumber).uint64Value)
        }
        let rows = try (o["rows"] as? [Any] ?? []).map { any -> RowChange in
            let r = any as! [String: Any]
            let state = try row(r)
            return RowChange(table: r["table"] as! String, key: r["key"] as! String,
                             fields: state.fields.map { FieldChange(name: $0.key, state: $0.value) },
                             covered: state.covered.map { CoveredChange(field: $0.key, vv: $0.value) })
        }
        return ChangeSet(sender: try replica(o["sender"]), fromSeq: (o["from_seq"] as! NSNumber).uint64Value,
                         toSeq: (o["to_seq"] as! NSNumber).uint64Value, acks: acks, rows: rows)
    }

    public func json(_ cs: ChangeSet) -> Any {
        [
            "sender": name(cs.sender), "from_seq": cs.fromSeq, "to_seq": cs.toSeq,
            "acks": Dictionary(uniqueKeysWithValues: cs.acks.map { (name($0.replica), $0.seq) }),
            "rows": cs.rows.map { r -> Any in
                var o = json(RowState(fields: Dictionary(uniqueKeysWithValues: r.fields.map { ($0.name, $0.state) }),
                                      covered: Dictionary(uniqueKeysWithValues: r.covered.map { ($0.field, $0.vv) })))
                    as! [String: Any]
                o["table"] = r.table
                o["key"] = r.key
                return o
            },
        ]
    }

    /// Every `*.json` file in a vector folder, sorted by name.
    public static func files(_ folder: String) -> [String] {
        let dir = repositoryRoot + "/protocol/vectors/" + folder
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted().map { dir + "/" + $0 }
    }

    public static func load(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }
}

public struct VectorError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

extension Array where Element == UInt8 {
    /// Lower-case hex.
    public var hex: String { map { String(format: "%02x", $0) }.joined() }
    /// Parses lower- or upper-case hex.
    public init?(hex: String) {
        var out: [UInt8] = []
        var it = hex.makeIterator()
        while let a = it.next() {
            guard let b = it.next(), let v = UInt8(String([a, b]), radix: 16) else { return nil }
            out.append(v)
        }
        self = out
    }
}
