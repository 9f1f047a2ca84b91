import Foundation
import ReplicaStore
import SyncCore

let streamUsage = """
    usage: daiban-bench stream [--fields N] [--json]
      Exports N field states (default 1,000,000; rows of the workload's 12 fields) from one replica to bundle files
      the way `daiban export` does, and imports them into a new replica the way `daiban import` does, reporting
      the time and the process's peak RSS of each step: memory should stay flat in N.
    """

/// `daiban-bench stream`: the memory of a large export and import.
func runStream(_ args: [String]) throws {
    var fields = 1_000_000
    var json = false
    var i = 1
    while i < args.count {
        switch args[i] {
        case "--fields" where i + 1 < args.count:
            guard let n = Int(args[i + 1]), n >= benchFields.count else { throw CheckFailure(streamUsage) }
            fields = n; i += 2
        case "--json": json = true; i += 1
        default: throw CheckFailure(streamUsage)
        }
    }
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("daiban-stream-\(getpid())")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let clock = { @Sendable () -> UInt64 in fixedClockMillis }
    let a = try ReplicaDatabase.create(at: root.appendingPathComponent("a.sqlite").path, schema: benchSchema,
                                       id: replicaID(41), now: clock)
    let rows = fields / benchFields.count
    var rng = SeededGenerator(seed: 41)
    let alphabet = Array("代办服务项目审批企业投资备案许可验收施工规划用地环评消防0123456789abcdefghij")
    progress("stream: writing \(rows) rows × \(benchFields.count) fields")
    let (_, writeS) = try timed {
        var r = 0
        while r < rows {
            let end = min(rows, r + 5_000)
            try a.write { tx in
                for k in r..<end {
                    var values: [String: FieldValue] = [:]
                    for f in benchFields {
                        if integerFields.contains(f) {
                            values[f] = .int(Int64(rng.next() % 100_000))
                        } else {
                            let n = f == "note" ? 120 : 12
                            values[f] = .text(String((0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }))
                        }
                    }
                    try tx.put(table: benchTable, key: "R\(k)", values)
                }
            }
            r = end
        }
    }
    let baseRSS = currentRSSMiB()
    _ = peaks.mark(counts: false)

    progress("stream: exporting (8 MiB bundles)")
    var files: [String] = []
    var exported = 0, bytes = 0
    let (_, exportS) = try timed {
        try a.exportBundles(for: nil) { chunk in
            let path = root.appendingPathComponent("bundle.\(files.count + 1)").path
            try Data(chunk.bytes).write(to: URL(fileURLWithPath: path))
            files.append(path)
            exported += chunk.changeSet.fieldCount
            bytes += chunk.bytes.count
        }
    }
    let exportPeak = peaks.mark()
    try check(exported == rows * benchFields.count, "exported \(exported) field states of \(rows * benchFields.count)")

    progress("stream: importing \(files.count) bundles into a new replica")
    let b = try ReplicaDatabase.create(at: root.appendingPathComponent("b.sqlite").path, schema: benchSchema,
                                       id: replicaID(42), now: clock)
    var applied = 0
    let (_, importS) = try timed {
        for path in files {
            let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            applied += try b.importBundle(data).applied
        }
    }
    let importPeak = peaks.mark()
    try check(applied == exported, "imported \(applied) field states of \(exported)")
    try check(try b.fieldStates(after: 0) == exported, "the new replica holds other field states")

    let figures: [(String, Double)] = [
        ("field_states", Double(exported)), ("bundles", Double(files.count)), ("bundle_bytes", Double(bytes)),
        ("write_s_untimed", writeS), ("export_s", exportS), ("import_s", importS),
        ("rss_before_export_mib", baseRSS), ("export_peak_rss_mib", exportPeak), ("import_peak_rss_mib", importPeak),
    ]
    if json {
        print("{" + figures.map { "\(jsonString($0.0)): \(jsonNumber($0.1))" }.joined(separator: ", ") + "}")
    } else {
        for (k, v) in figures { print("  " + k.padding(toLength: 24, withPad: " ", startingAt: 0) + " " + human(v)) }
    }
}
