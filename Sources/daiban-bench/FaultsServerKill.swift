import BadLink
import Foundation
import SyncCore
import GRDB
import ReplicaStore
import SyncClient

/// SIGKILL of the server at random moments while four clients push and pull, then a restart. After each kill,
/// with the server down, its file is checked: every change a client holds as acknowledged (at or below its push
/// cursor) is there, and no version was applied twice (the server's audit trail names each applied version once).
/// At the end every replica converges after a final sync, and the audit trail holds each written field exactly
/// once.
///
/// Planted defect: after the kill, the server's data folder is put back as it was before the trial — as if the
/// server had acknowledged pushes it never committed.
func serverKillCampaign(_ o: FaultOptions, _ dir: URL) async throws -> CampaignResult {
    var result = CampaignResult(name: "server-kill")
    var dice = Chance(o.seed)
    let trials = o.trials ?? (o.short ? 8 : 50)
    let data = dir.appendingPathComponent("server").path
    // The clients reach the server through a clean proxy, whose port stays while the server's changes.
    let (started, proxy) = try await serverBehindProxy(o, data: data)
    var server = started
    var clients: [FieldClient] = []
    for i in 0..<4 {
        clients.append(try await FieldClient.create(dir: dir, name: "c\(i)", url: proxy.url, stallSeconds: 10))
    }
    defer { server.stop() }

    var kills = 0, failedSyncs = 0, completedSyncs = 0, acknowledgedChecked = 0
    var killedDuring: [String: Int] = [:]
    for trial in 1...trials {
        // Each client types a batch (one transaction): 100–600 new rows of twelve fields, some with notes.
        for c in clients { try c.write(rows: dice.int(100...600), noteChars: dice.int(0...2) == 0 ? 200 : 0, dice: &dice) }
        let snapshot = o.plant && trial == (trials + 1) / 2 ? try copyFolder(data, to: dir.appendingPathComponent("snapshot").path) : nil
        let killAfter = dice.double(0.02...3.0)
        let syncs = Task { [clients] in
            await withTaskGroup(of: Bool.self) { group in
                for c in clients { group.addTask { (try? await c.sync(retries: 0)) != nil } }
                var ok = 0
                for await done in group where done { ok += 1 }
                return ok
            }
        }
        // The planted trial lets the syncs finish (so pushes were surely acknowledged) before the kill.
        let finished = snapshot == nil ? nil : await syncs.value
        if finished == nil { try await Task.sleep(nanoseconds: UInt64(killAfter * 1e9)) }
        let pushesBefore = server.pushCount
        server.crash()
        kills += 1
        let ok: Int
        if let finished { ok = finished } else { ok = await syncs.value }
        completedSyncs += ok
        failedSyncs += clients.count - ok
        killedDuring[ok == clients.count ? "after all syncs" : pushesBefore == 0 ? "before any push" : "during syncs", default: 0] += 1
        if let snapshot {
            try FileManager.default.removeItem(atPath: data)
            try FileManager.default.moveItem(atPath: snapshot, toPath: data)
            progress("  planted: the server's data folder is back as it was before trial \(trial)")
        }

        // The server is down: its file as the crash left it.
        try checkServerFile(data, clients, &result, &acknowledgedChecked, label: "trial \(trial)")
        server = try ServerProcess(executable: o.serverPath, data: data)
        try proxy.redirect(toPort: server.port)
        if trial % 10 == 0 || trial == trials {
            progress("  trial \(trial)/\(trials): \(completedSyncs) syncs completed, \(failedSyncs) cut by a kill")
        }
    }

    // A final round (twice, so every client also pulls what the others pushed last), then everyone must agree.
    for _ in 0..<2 {
        for c in clients {
            do { _ = try await c.sync(retries: 2) } catch { result.fail("final sync of \(c.name): \(error)") }
        }
    }
    server.stop()
    let written = clients.reduce(0) { $0 + $1.fields }
    let (rows, audited) = try checkConverged(clients, copy: try copyServerReplica(data), holder: "the server", &result)
    for c in clients { await c.shutdown() }
    await proxy.shutdown()

    result.figures.set("trials", Double(trials))
    result.figures.set("kills", Double(kills))
    for (k, v) in killedDuring.sorted(by: { $0.key < $1.key }) { result.figures.set("kills " + k, Double(v)) }
    result.figures.set("syncs completed", Double(completedSyncs))
    result.figures.set("syncs cut by a kill", Double(failedSyncs))
    result.figures.set("fields written", Double(written))
    result.figures.set("acknowledged fields checked after kills", Double(acknowledgedChecked))
    result.figures.set("fields on the server at the end", Double(rows.values.reduce(0) { $0 + $1.count }))
    result.figures.set("versions applied (audit)", Double(audited.versions))
    result.figures.set("versions applied twice", Double(audited.duplicates))
    return result
}

/// After the final syncs: every client holds what the copy of the server's replica at `copy` holds (`holder`
/// names it in messages), every written row is there, and the audit trail names each written version once.
func checkConverged(_ clients: [FieldClient], copy: String, holder: String, _ result: inout CampaignResult) throws
    -> (rows: [String: [String: FieldValue]], audited: (versions: Int, duplicates: Int))
{
    let written = clients.reduce(0) { $0 + $1.fields }, writtenRows = clients.reduce(0) { $0 + $1.rows }
    let rows = try benchRows(ReplicaDatabase.open(at: copy, schema: syncClientSchema))
    for c in clients {
        let mine = try benchRows(c.replica)
        result.expect(mine == rows, "\(c.name) holds \(mine.count) rows, \(holder) \(rows.count), or values differ")
    }
    result.expect(rows.count == writtenRows, "\(holder) holds \(rows.count) rows of \(writtenRows) written")
    let audited = try auditCounts(copy)
    result.expect(audited.versions == written, "\(holder)'s audit names \(audited.versions) applied versions; \(written) were written")
    return (rows, audited)
}

/// With the server down: every acknowledged change of every client is in its file, none applied twice.
func checkServerFile(_ data: String, _ clients: [FieldClient], _ result: inout CampaignResult, _ checked: inout Int,
                     label: String) throws {
    let copy = try copyServerReplica(data)
    let serverReplica = try openServerReplica(data, copy: copy)
    for c in clients {
        let (missing, n) = try missingAcknowledged(c, in: serverReplica)
        checked += n
        if !missing.isEmpty {
            result.fail("\(label): \(missing.count) change(s) \(c.name) holds as acknowledged are not on the server (e.g. \(missing.prefix(3).joined(separator: ", ")))")
        }
    }
    let audited = try auditCounts(copy)
    if audited.duplicates > 0 { result.fail("\(label): \(audited.duplicates) version(s) applied twice") }
}

/// The audit trail of the bench table in a copy of the server's file: versions applied, and versions named more
/// than once.
func auditCounts(_ copy: String) throws -> (versions: Int, duplicates: Int) {
    let queue = try DatabaseQueue(path: copy)
    return try queue.read { db in
        let versions = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM audit a JOIN row r ON r.id = a.row WHERE r.tbl = ?
            """, arguments: [benchTable]) ?? 0
        let duplicates = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM (SELECT 1 FROM audit a JOIN row r ON r.id = a.row WHERE r.tbl = ?
                                  GROUP BY a.row, a.field, a.writer, a.hlc HAVING count(*) > 1)
            """, arguments: [benchTable]) ?? 0
        return (versions, duplicates)
    }
}

/// Copies a folder (the server's data, while the server is down or between requests) and returns the copy's path.
func copyFolder(_ from: String, to: String) throws -> String {
    try? FileManager.default.removeItem(atPath: to)
    try FileManager.default.copyItem(atPath: from, toPath: to)
    return to
}
