import Foundation
import GRDB
import ReplicaStore
import SyncCore
import SyncProtocol

/// Replays a random offline history over N real SQLite replicas and checks that they converge.
///
/// Replicas write, delete and resolve conflicts; bundles are exported for random peers (or for everyone)
/// into a shared pool and delivered at random, so bundles arrive duplicated, reordered, stale, with gaps, and
/// even back at their sender. Clocks are skewed per replica. At the end every pair syncs until nothing
/// changes, and every replica must hold the same rows (values, version vectors, HLCs, tombstones) and the
/// same open conflicts. Everything derives from `seed`, so a failure replays exactly.
public struct RandomHistory {
    /// Small tables with few keys and values, so that concurrent edits collide often.
    public static let schema = Schema([
        TableSchema("t", [
            FieldSchema("a", .text),
            FieldSchema("b", .integer),
            FieldSchema("s", .text, policy: .ordered(["new", "open", "done"])),
        ], projected: true, indexes: [["s"]]),
        TableSchema("u", [FieldSchema("x", .text)]),
    ])

    public let seed: UInt64
    public var replicaCount: Int
    public var steps: Int
    /// What happened, one line per step (printed on failure).
    public private(set) var log: [String] = []

    public init(seed: UInt64) {
        self.seed = seed
        var g = SeededGenerator(seed: seed)
        replicaCount = Int.random(in: 3...5, using: &g)
        steps = Int.random(in: 8...30, using: &g)
    }

    /// Runs the history; returns nil when the replicas converged, else what differs.
    public mutating func run(in dir: TemporaryDirectory) throws -> String? {
        var g = SeededGenerator(seed: seed ^ 0xDA1BA2)
        let clock = ManualClock()
        let replicas = try (0..<replicaCount).map { i -> ReplicaDatabase in
            let skew = UInt64.random(in: 0...3000, using: &g)
            return try ReplicaDatabase.create(at: dir.file("r\(i).sqlite"), schema: Self.schema,
                                              id: testReplica(UInt64(i + 1)), author: "u\(i)",
                                              now: { clock.now() + skew })
        }
        var pool: [[UInt8]] = []
        let keys = ["k1", "k2", "k3"]
        let texts = ["甲", "乙", "丙", ""]
        for _ in 0..<steps {
            clock.advance(UInt64.random(in: 0...3, using: &g))
            let r = Int.random(in: 0..<replicaCount, using: &g)
            let replica = replicas[r]
            switch Int.random(in: 0..<100, using: &g) {
            case 0..<40:
                let table = Bool.random(using: &g) ? "t" : "u"
                let key = keys.randomElement(using: &g)!
                var values: [String: FieldValue] = [:]
                if table == "u" {
                    values["x"] = .text(texts.randomElement(using: &g)!)
                } else {
                    for _ in 0..<Int.random(in: 1...2, using: &g) {
                        switch Int.random(in: 0..<3, using: &g) {
                        case 0: values["a"] = .text(texts.randomElement(using: &g)!)
                        case 1: values["b"] = Bool.random(using: &g) ? .null : .int(Int64.random(in: 0...2, using: &g))
                        default: values["s"] = .text(["new", "open", "done"].randomElement(using: &g)!)
                        }
                    }
                }
                try replica.write { tx in try tx.put(table: table, key: key, values) }
                log.append("r\(r) put \(table)/\(key) \(values.keys.sorted())")
            case 40..<50:
                let table = Bool.random(using: &g) ? "t" : "u"
                let key = keys.randomElement(using: &g)!
                do {
                    try replica.write { tx in try tx.delete(table: table, key: key) }
                    log.append("r\(r) delete \(table)/\(key)")
                } catch let e as SyncError where e.code == .unknownRow {
                    log.append("r\(r) delete \(table)/\(key): no such row")
                }
            case 50..<60:
                let open = try replica.conflicts()
                guard let c = open.randomElement(using: &g) else { continue }
                let keepDeleted = c.deletion != nil && Bool.random(using: &g)
                let value: FieldValue? =
                    keepDeleted ? nil
                    : c.field == Schema.deletedField ? .bool(Bool.random(using: &g))
                    : c.versions.randomElement(using: &g)!.value
                try replica.resolve(c, value: value)
                log.append("r\(r) resolve \(c.table)/\(c.key).\(c.field) (\(c.kind))")
            case 60..<80:
                let peer = Int.random(in: -1..<replicaCount, using: &g)
                let bundle = try replica.exportBundle(for: peer < 0 ? nil : replicas[peer].id).bytes
                pool.append(bundle)
                log.append("r\(r) export for \(peer < 0 ? "all" : "r\(peer)") → bundle \(pool.count - 1)")
            default:
                guard !pool.isEmpty else { continue }
                let b = Int.random(in: 0..<pool.count, using: &g)
                let report = try replica.importBundle(pool[b])
                log.append("r\(r) import bundle \(b): applied \(report.applied), ignored \(report.ignored)")
            }
        }
        try Self.syncAll(replicas)
        return try Self.difference(replicas)
    }

    /// Every ordered pair exchanges `export --for` bundles until a whole round applies nothing.
    public static func syncAll(_ replicas: [ReplicaDatabase], maxRounds: Int = 6) throws {
        for _ in 0..<maxRounds {
            var applied = 0
            for src in replicas {
                for dst in replicas where dst.id != src.id {
                    applied += try dst.importBundle(try src.exportBundle(for: dst.id).bytes).applied
                }
            }
            if applied == 0 { return }
        }
    }

    /// nil when every replica equals the first, else a description of the first difference.
    public static func difference(_ replicas: [ReplicaDatabase]) throws -> String? {
        let first = try replicas[0].snapshot()
        for (i, r) in replicas.enumerated().dropFirst() {
            let s = try r.snapshot()
            if s.rows != first.rows {
                let keys = Set(s.rows.keys).union(first.rows.keys).sorted()
                let k = keys.first { s.rows[$0] != first.rows[$0] }!
                return "replica \(i) differs from replica 0 at row \(k): \(String(describing: s.rows[k])) vs \(String(describing: first.rows[k]))"
            }
            if s.conflicts != first.conflicts {
                return "replica \(i) has open conflicts \(s.conflicts.map(\.id)) but replica 0 has \(first.conflicts.map(\.id))"
            }
        }
        for (i, r) in replicas.enumerated() {
            if let d = try projectionDifference(r) { return "replica \(i): \(d)" }
        }
        return nil
    }

    /// nil when the query table `v_t` holds exactly the visible values of the live rows of `t`.
    public static func projectionDifference(_ r: ReplicaDatabase) throws -> String? {
        let expected = try r.list(table: "t").map { rec in
            ([rec.key] + ["a", "b", "s"].map { f in rec.fields.first { $0.name == f }?.value.displayText ?? "" })
                .joined(separator: "|")
        }
        let projected = try r.query { db in
            try Row.fetchAll(db, sql: "SELECT _key, a, b, s FROM v_t ORDER BY _key").map { row in
                (0..<4).map { i -> String in
                    let v: DatabaseValue = row[i]
                    switch v.storage {
                    case .null: return ""
                    case .int64(let n): return String(n)
                    case .string(let t): return t
                    default: return "?"
                    }
                }.joined(separator: "|")
            }
        }
        return expected == projected ? nil : "query table v_t \(projected) differs from the rows \(expected)"
    }
}
