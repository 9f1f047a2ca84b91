import Foundation
import ReplicaStore
import SyncCore
import SyncProtocol

/// Every replica's wall clock: a fixed instant (2025-01-01T00:00:00Z), so HLC timestamps, and therefore
/// tie-breaks and encoded sizes, are the same on every run. The HLC still advances: each local write ticks
/// the logical counter (which carries into the physical part every 65,536 ticks).
let fixedClockMillis: UInt64 = 1_735_689_600_000

func replicaID(_ n: UInt64) -> ReplicaID { ReplicaID(high: 0, low: n) }

/// Figures of one repeat, in insertion order.
struct Metrics {
    private(set) var items: [(key: String, value: Double)] = []
    subscript(key: String) -> Double? { items.first { $0.key == key }?.value }
    mutating func set(_ key: String, _ value: Double) {
        if let i = items.firstIndex(where: { $0.key == key }) { items[i].value = value } else { items.append((key, value)) }
    }
}

/// One repeat of phases A, B and C on fresh replicas in `dir`.
struct EngineRun {
    let w: Workload
    let dir: URL
    /// Every replica's wall clock (`fixedClockMillis`, or the system clock with `--clock wall`).
    let clock: @Sendable () -> UInt64
    var m = Metrics()
    /// Whether to keep the Phase B and C bundles (a few MB of bytes) for `--breakdown`.
    var keepBundles = false
    var phaseBBundles: [[UInt8]] = []
    var phaseCBundle: [UInt8] = []

    init(workload: Workload, dir: URL, wallClock: Bool) {
        w = workload
        self.dir = dir
        if wallClock {
            clock = ReplicaDatabase.wallClockMillis
        } else {
            clock = { @Sendable () -> UInt64 in fixedClockMillis }
        }
    }

    func makeReplica(_ name: String, _ id: UInt64) throws -> ReplicaDatabase {
        try ReplicaDatabase.create(at: dir.appendingPathComponent(name + ".sqlite").path, schema: benchSchema,
                                   id: replicaID(id), author: "", now: clock)
    }

    /// The visible values of every record, `[record][field]`, checked to hold exactly the workload's rows.
    func visibleState(_ r: ReplicaDatabase) throws -> [[FieldValue]] {
        let records = try r.list(table: benchTable)
        try check(records.count == w.keys.count, "replica \(r.id.low) holds \(records.count) rows, expected \(w.keys.count)")
        var out = [[FieldValue]](repeating: [], count: w.keys.count)
        let index = Dictionary(uniqueKeysWithValues: w.keys.enumerated().map { ($1, $0) })
        for rec in records {
            guard let i = index[rec.key] else { throw CheckFailure("replica \(r.id.low) holds unknown row \(rec.key)") }
            try check(rec.fields.map(\.name) == benchFields, "row \(rec.key) has fields \(rec.fields.map(\.name))")
            out[i] = rec.fields.map(\.value)
        }
        return out
    }

    func assertState(_ r: ReplicaDatabase, equals expected: [[FieldValue]], _ what: String) throws {
        let got = try visibleState(r)
        for i in expected.indices where got[i] != expected[i] {
            let f = benchFields.indices.first { got[i][$0] != expected[i][$0] }.map { benchFields[$0] } ?? "?"
            throw CheckFailure("\(what): \(w.keys[i]).\(f) differs")
        }
    }

    /// Streams a bundle through the reader without touching SQLite: decode (inflate + parse) time only.
    func decodeOnly(_ bytes: [UInt8]) throws -> Double {
        let t0 = now()
        var reader = try ChangeSetReader(bytes: bytes)
        var fields = 0
        while let row = try reader.next() { fields += row.fields.count }
        let s = now() - t0
        precondition(fields >= 0)  // uses the result, so the loop cannot be optimised away
        return s
    }

    /// Establishes the sync baseline between two replicas that hold the same state: after it, each one's
    /// `changeSet(for:)` the other starts after everything it holds now, so the next delta carries only new
    /// local writes. It uses only the sync protocol: x sends y everything (y's `received[x]` moves to x's
    /// sequence), y sends x everything with that receipt as an ack (x's `acked[y]` moves), then x sends y
    /// an empty set carrying x's receipt of y (y's `acked[x]` moves). The full sets merge as no-ops.
    /// The change-sets are applied in memory (`apply(_:)`): this is the untimed "publish your version" step.
    func handshake(_ x: ReplicaDatabase, _ y: ReplicaDatabase) throws {
        _ = try y.apply(try x.changeSet(for: y.id))
        _ = try x.apply(try y.changeSet(for: x.id))
        let last = try x.changeSet(for: y.id)
        try check(last.fieldCount == 0, "handshake: \(x.id.low)→\(y.id.low) still has \(last.fieldCount) fields to send")
        _ = try y.apply(last)
        let back = try y.changeSet(for: x.id)
        try check(back.fieldCount == 0, "handshake: \(y.id.low)→\(x.id.low) still has \(back.fieldCount) fields to send")
    }

    /// Same rows, same row states, same open conflicts on every replica.
    func assertConverged(_ reps: [ReplicaDatabase]) throws {
        let counts = try reps.map { try $0.status().tables.map { "\($0.table):\($0.live)/\($0.deleted)" } }
        for k in 1..<reps.count {
            try check(counts[k] == counts[0], "replica \(reps[k].id.low) holds rows \(counts[k]), replica \(reps[0].id.low) \(counts[0])")
        }
        for key in w.keys {
            let reference = try reps[0].rowState(table: benchTable, key: key)
            try check(reference != nil, "replica \(reps[0].id.low) lacks row \(key)")
            for r in reps.dropFirst() {
                try check(try r.rowState(table: benchTable, key: key) == reference,
                          "replica \(r.id.low) differs from replica \(reps[0].id.low) on row \(key)")
            }
        }
        let conflicts = try reps[0].conflicts()
        for r in reps.dropFirst() {
            try check(try r.conflicts() == conflicts, "replica \(r.id.low) lists other open conflicts")
        }
    }

    @inline(__always)
    func put(_ tx: ReplicaTransaction, _ op: Op) throws {
        try tx.put(table: benchTable, key: w.keys[Int(op.record)], [benchFields[Int(op.field)]: op.value])
    }

    // MARK: Phase A

    /// Creates the 10,000 records on A, exports everything, imports it on B. Returns A's full bundle.
    mutating func phaseA() throws -> [UInt8] {
        let a = try makeReplica("phase_a_1", 1)
        let (_, createS) = try timed {
            try a.write { tx in
                for (r, key) in w.keys.enumerated() {
                    var values = [String: FieldValue](minimumCapacity: benchFields.count)
                    for (f, v) in w.initial[r].enumerated() { values[benchFields[f]] = v }
                    try tx.put(table: benchTable, key: key, values)
                }
            }
        }
        m.set("peak_rss_mib_phase_a_create", peaks.mark())
        // exportBundle(for: nil), split into its two steps: read the change-set, encode it (payload + zlib).
        let (cs, queryS) = try timed { try a.changeSet(for: nil) }
        let (bytes, encodeS) = timed { ChangeSetEncoder(level: 6).encode(cs) }
        let (payload, payloadS) = timed { ChangeSetEncoder().payload(cs) }
        let fieldStates = cs.fieldCount
        try check(fieldStates == w.keys.count * benchFields.count, "full export carries \(fieldStates) field states")

        m.set("peak_rss_mib_phase_a_export", peaks.mark())
        let b = try makeReplica("phase_a_2", 2)
        let (report, importS) = try timed { try b.importBundle(bytes) }
        try check(report.applied == fieldStates, "B applied \(report.applied) of \(fieldStates) field states")
        let (records, readS) = try timed { try b.list(table: benchTable) }
        try check(records.count == w.keys.count, "phase A: B holds \(records.count) rows")
        let state = try visibleState(b)
        for i in state.indices where state[i] != w.initial[i] {
            throw CheckFailure("phase A: B's \(w.keys[i]) differs from the source data")
        }
        let decodeS = try decodeOnly(bytes)

        m.set("peak_rss_mib_phase_a_import_verify", peaks.mark())
        m.set("phase_a_create_s", createS)
        m.set("phase_a_export_query_s", queryS)
        m.set("phase_a_encode_s", encodeS)
        m.set("phase_a_export_s", queryS + encodeS)
        m.set("phase_a_payload_only_s", payloadS)
        m.set("phase_a_zlib_s", max(0, encodeS - payloadS))
        m.set("phase_a_field_states", Double(fieldStates))
        m.set("phase_a_raw_bytes", Double(payload.count))
        m.set("phase_a_bundle_bytes", Double(bytes.count))
        m.set("phase_a_bundle_bytes_per_field", Double(bytes.count) / Double(fieldStates))
        m.set("phase_a_import_s", importS)
        m.set("phase_a_decode_only_s", decodeS)
        m.set("phase_a_import_and_read_s", importS + readS)
        return bytes
    }

    // MARK: Phase B

    mutating func phaseB(initialBundle: [UInt8]) throws {
        let ids: [UInt64] = [11, 12, 13]
        let reps = try ids.map { try makeReplica("phase_b_\($0)", $0) }
        for r in reps {
            _ = try r.importBundle(initialBundle)
            _ = try r.list(table: benchTable)  // warm-up read, untimed
        }
        let (_, handshakeS) = try timed {
            for (i, j) in [(0, 1), (1, 2), (0, 2)] { try handshake(reps[i], reps[j]) }
        }
        m.set("phase_b_baseline_handshake_s_untimed", handshakeS)
        m.set("peak_rss_mib_phase_b_setup", peaks.mark())

        // Local writes: one transaction per update.
        var writeS = 0.0
        for k in 0..<3 {
            progress("  phase B: replica \(ids[k]) writes \(w.phaseB[k].count) updates, one transaction each")
            let r = reps[k]
            let ops = w.phaseB[k]
            let t0 = now()
            for op in ops { try r.write { tx in try put(tx, op) } }
            writeS += now() - t0
        }

        // Encode the six deltas (before any is applied, so each carries only its sender's own writes).
        var bundles = [[[UInt8]]](repeating: [[], [], []], count: 3)
        var encodeS = 0.0, queryS = 0.0, payloadS = 0.0, rawBytes = 0, bundleBytes = 0, fieldStates = 0, rows = 0
        for src in 0..<3 {
            for dst in 0..<3 where dst != src {
                let (cs, q) = try timed { try reps[src].changeSet(for: reps[dst].id) }
                let (bytes, e) = timed { ChangeSetEncoder(level: 6).encode(cs) }
                let (payload, p) = timed { ChangeSetEncoder().payload(cs) }
                queryS += q; encodeS += q + e; payloadS += p
                rawBytes += payload.count; bundleBytes += bytes.count
                fieldStates += cs.fieldCount; rows += cs.rows.count
                bundles[src][dst] = bytes
                if keepBundles { phaseBBundles.append(bytes) }
            }
        }
        var decodeS = 0.0
        for src in 0..<3 { for dst in 0..<3 where dst != src { decodeS += try decodeOnly(bundles[src][dst]) } }

        // Apply: each dst imports its two incoming deltas in src order.
        var applyS = 0.0, applied = 0, ignored = 0
        for dst in 0..<3 {
            for src in 0..<3 where src != dst {
                let (report, s) = try timed { try reps[dst].importBundle(bundles[src][dst]) }
                applyS += s; applied += report.applied; ignored += report.ignored
                progress(String(format: "  phase B: %d imports %d's delta: %d rows, %d field states applied, %d open conflicts after, %.3f s",
                                ids[dst], ids[src], report.rows, report.applied, report.conflictsAfter, s))
            }
        }
        bundles = []
        m.set("peak_rss_mib_phase_b_sync", peaks.mark())

        // All three replicas hold the same replicated state (every version, clock and open conflict). This is
        // what `snapshot()` compares, done row by row so that three full snapshots never sit in memory at once.
        try assertConverged(reps)
        let openConflicts = try reps[0].conflicts().count

        // The oracle: writer's last value, one of the two last values, or the initial value.
        let nf = benchFields.count
        var last = [FieldValue?](repeating: nil, count: w.keys.count * nf * 3)
        for k in 0..<3 { for op in w.phaseB[k] { last[(Int(op.record) * nf + Int(op.field)) * 3 + k] = op.value } }
        var wins = [0, 0, 0], sameValue = 0, conflictCells = 0
        let finalState = try visibleState(reps[0])
        for r in 0..<w.keys.count {
            for f in 0..<nf {
                let got = finalState[r][f]
                let base = (r * nf + f) * 3
                let writers = (0..<3).filter { last[base + $0] != nil }
                switch writers.count {
                case 0:
                    try check(got == w.initial[r][f], "phase B: untouched \(w.keys[r]).\(benchFields[f]) changed")
                case 1:
                    try check(got == last[base + writers[0]]!,
                              "phase B: \(w.keys[r]).\(benchFields[f]) lacks replica \(ids[writers[0]])'s last value")
                default:
                    conflictCells += 1
                    let winners = writers.filter { last[base + $0]! == got }
                    try check(!winners.isEmpty, "phase B: conflict \(w.keys[r]).\(benchFields[f]) holds neither value")
                    if winners.count == 1 { wins[winners[0]] += 1 } else { sameValue += 1 }
                }
            }
        }

        m.set("peak_rss_mib_phase_b_verify", peaks.mark())
        let totalUpdates = Double(w.phaseB.reduce(0) { $0 + $1.count })
        let delivered = 2 * totalUpdates  // each update travels to two replicas
        m.set("phase_b_write_s", writeS)
        m.set("phase_b_write_ops_per_s", totalUpdates / writeS)
        m.set("phase_b_encode_s", encodeS)
        m.set("phase_b_encode_query_s", queryS)
        m.set("phase_b_zlib_s", max(0, encodeS - queryS - payloadS))
        m.set("phase_b_decode_only_s", decodeS)
        m.set("phase_b_apply_s", applyS)
        m.set("phase_b_merge_updates_per_s", delivered / applyS)
        m.set("phase_b_converge_s", encodeS + applyS)
        m.set("phase_b_converge_s_excl_zlib_compress", encodeS + applyS - max(0, encodeS - queryS - payloadS))
        m.set("phase_b_updates_delivered", delivered)
        m.set("phase_b_field_states_shipped", Double(fieldStates))
        m.set("phase_b_rows_shipped", Double(rows))
        m.set("phase_b_field_states_applied", Double(applied))
        m.set("phase_b_field_states_ignored", Double(ignored))
        m.set("phase_b_raw_bytes", Double(rawBytes))
        m.set("phase_b_bundle_bytes", Double(bundleBytes))
        m.set("phase_b_raw_bytes_per_update", Double(rawBytes) / delivered)
        m.set("phase_b_bundle_bytes_per_update", Double(bundleBytes) / delivered)
        m.set("phase_b_bundle_bytes_per_field_state", Double(bundleBytes) / Double(fieldStates))
        m.set("phase_b_conflict_cells", Double(conflictCells))
        m.set("phase_b_open_conflicts", Double(openConflicts))
        for k in 0..<3 { m.set("phase_b_conflicts_won_r\(ids[k])", Double(wins[k])) }
        m.set("phase_b_conflicts_same_value", Double(sameValue))
    }

    // MARK: Phase C

    /// B makes the Phase C updates in one transaction, A applies the delta. Returns the oracle state.
    mutating func phaseC(initialBundle: [UInt8]) throws -> [[FieldValue]] {
        let a = try makeReplica("phase_c_21", 21)
        let b = try makeReplica("phase_c_22", 22)
        for r in [a, b] {
            _ = try r.importBundle(initialBundle)
            _ = try r.list(table: benchTable)  // warm-up read, untimed
        }
        try handshake(b, a)

        progress("  phase C: replica 22 writes \(w.phaseC.count) updates in one transaction")
        let (_, writeS) = try timed { try b.write { tx in for op in w.phaseC { try put(tx, op) } } }
        let (cs, queryS) = try timed { try b.changeSet(for: a.id) }
        let (bytes, e) = timed { ChangeSetEncoder(level: 6).encode(cs) }
        let (payload, payloadS) = timed { ChangeSetEncoder().payload(cs) }
        let fieldStates = cs.fieldCount, rows = cs.rows.count
        let decodeS = try decodeOnly(bytes)
        let (report, applyS) = try timed { try a.importBundle(bytes) }
        if keepBundles { phaseCBundle = bytes }
        try check(report.applied == fieldStates, "phase C: A applied \(report.applied) of \(fieldStates) field states")

        m.set("peak_rss_mib_phase_c", peaks.mark())
        var oracle = w.initial
        for op in w.phaseC { oracle[Int(op.record)][Int(op.field)] = op.value }
        try assertState(a, equals: oracle, "phase C: A vs oracle")
        try assertState(b, equals: oracle, "phase C: B vs oracle")

        m.set("peak_rss_mib_phase_c_verify", peaks.mark())
        let n = Double(w.phaseC.count)
        m.set("phase_c_write_s", writeS)
        m.set("phase_c_write_ops_per_s", n / writeS)
        m.set("phase_c_encode_s", queryS + e)
        m.set("phase_c_encode_query_s", queryS)
        m.set("phase_c_zlib_s", max(0, e - payloadS))
        m.set("phase_c_field_states", Double(fieldStates))
        m.set("phase_c_rows", Double(rows))
        m.set("phase_c_raw_bytes", Double(payload.count))
        m.set("phase_c_bundle_bytes", Double(bytes.count))
        m.set("phase_c_raw_bytes_per_update", Double(payload.count) / n)
        m.set("phase_c_bundle_bytes_per_update", Double(bytes.count) / n)
        m.set("phase_c_bundle_bytes_per_field_state", Double(bytes.count) / Double(fieldStates))
        m.set("phase_c_decode_only_s", decodeS)
        m.set("phase_c_apply_s", applyS)
        m.set("phase_c_apply_updates_per_s", n / applyS)
        m.set("phase_c_apply_field_states_per_s", Double(fieldStates) / applyS)
        return oracle
    }
}
