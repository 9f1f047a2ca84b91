import CaseDomain
import Foundation
import SyncCore
import GRDB
import ReplicaStore

/// One `daiban` run: exit status (nil when killed), output, time.
struct CLIRun {
    var status: Int32?
    var out: String
    var err: String
    var seconds: Double
    var killed: Bool { status == nil }
}

/// Runs the CLI with `args` (plus `--home home` when given), feeding `stdin`; with `killAfter`, SIGKILLs it
/// after that many seconds if it is still running. Output goes through files (no pipe can fill and block).
func runCLI(_ exe: String, _ args: [String], home: String?, stdin: String? = nil, killAfter: Double? = nil,
            environment extra: [String: String] = [:]) throws -> CLIRun {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args + (home.map { ["--home", $0] } ?? [])
    var env = ServerProcess.environment().merging(extra) { $1 }
    env["LOG_LEVEL"] = nil
    p.environment = env
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("daiban-cli-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: tmp.path + ".out", contents: nil)
    FileManager.default.createFile(atPath: tmp.path + ".err", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: tmp.path + ".out")
        try? FileManager.default.removeItem(atPath: tmp.path + ".err")
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + ".out"))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + ".err"))
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = stdin == nil ? FileHandle.nullDevice : input
    let t0 = now()
    try p.run()
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try? input.fileHandleForWriting.close()
    }
    var killed = false
    if let killAfter {
        let deadline = t0 + killAfter
        while p.isRunning && now() < deadline { usleep(1_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            killed = true
        }
    }
    p.waitUntilExit()
    try out.close()
    try err.close()
    let text = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return CLIRun(status: killed ? nil : p.terminationStatus, out: text(tmp.path + ".out"), err: text(tmp.path + ".err"),
                  seconds: now() - t0)
}

/// `PRAGMA integrity_check` of a replica file, opened as the next command would (recovering its log).
func integrity(_ path: String) throws -> String {
    let queue = try DatabaseQueue(path: path)
    return try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
}

/// A catalogue CSV of `count` items whose names carry `tag`, so each file changes every row.
func catalogueCSV(_ path: String, prefix: String, count: Int, tag: String) throws {
    var text = "code,name,department_id,default_kind,committed_limit,committed_unit,legal_limit,legal_unit,stage,approval_level,class_hint,pauses_allowed,required_materials\n"
    for i in 0..<count {
        text += "\(prefix)-\(String(format: "%05d", i)),测试事项\(i)号（\(tag)）,D-FG,COMMITTED,\(5 + i % 20),WD,,,LIXIANG_YONGDI,COUNTY,,,\n"
    }
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

/// SIGKILL of the `daiban` CLI in the middle of `sync`, a bundle `import` and a `catalogue import`, at random
/// moments. Before each trial a `record put` is accepted (exit 0). After each kill: the replica passes
/// `PRAGMA integrity_check`, every accepted write is there with its value, and the next `daiban sync`
/// completes. At the end the server holds every accepted write and the catalogue as the client last wrote it.
///
/// Planted defect: in the middle trial, after the kill, a stretch of the replica file is overwritten (what a
/// store that wrote in place without a journal could leave).
func clientKillCampaign(_ o: FaultOptions, _ dir: URL) async throws -> CampaignResult {
    var result = CampaignResult(name: "client-kill")
    var dice = Chance(o.seed)
    let trials = o.trials ?? (o.short ? 9 : 60)
    let cli = o.daibanPath
    let data = dir.appendingPathComponent("server").path
    try ServerProcess.bootstrap(executable: o.serverPath, data: data, user: syncUser, password: syncPassword)
    let server = try ServerProcess(executable: o.serverPath, data: data)
    defer { server.stop() }
    let home = dir.appendingPathComponent("home").path
    let replicaPath = home + "/replica.sqlite"
    let initRun = try runCLI(cli, ["init", "--server", server.url, "--user", syncUser, "--password-stdin"], home: home,
                             stdin: syncPassword + "\n")
    try check(initRun.status == 0, "daiban init: \(initRun.err)")

    // A foreign device's bundle (another replica's catalogue) to import, in two files.
    let other = dir.appendingPathComponent("other").path
    _ = try runCLI(cli, ["init", "--author", "other"], home: other)
    let otherCSV = dir.appendingPathComponent("other.csv").path
    try catalogueCSV(otherCSV, prefix: "Y", count: 4000, tag: "外来")
    _ = try runCLI(cli, ["catalogue", "import", otherCSV], home: other)
    let bundle = dir.appendingPathComponent("other.bundle").path
    let exported = try runCLI(cli, ["export", bundle], home: other)
    try check(exported.status == 0, "daiban export: \(exported.err)")
    let bundleFiles = [bundle] + (FileManager.default.fileExists(atPath: bundle + ".2") ? [bundle + ".2"] : [])

    var accepted: [String: String] = [:]
    var durations: [String: Double] = [:]
    var kills: [String: Int] = [:], completedBeforeKill = 0
    let ops = ["sync", "import", "catalogue"]
    for trial in 1...trials {
        // An accepted write: the command printed its result.
        let key = "K\(trial)", value = dice.chinese(8)
        let put = try runCLI(cli, ["record", "put", "township", key, "name=\(value)"], home: home)
        guard put.status == 0 else {
            result.fail("trial \(trial): record put failed: \(put.err)")
            continue
        }
        accepted[key] = value

        let op = ops[(trial - 1) % ops.count]
        var args: [String]
        let tag = "t\(trial)"
        switch op {
        case "sync": args = ["sync"]
        case "import": args = ["import"] + bundleFiles
        default:
            let csv = dir.appendingPathComponent("cat-\(trial).csv").path
            try catalogueCSV(csv, prefix: "X", count: 4000, tag: tag)
            args = ["catalogue", "import", csv]
        }
        // The first run of each operation is timed whole; later ones are killed at a random point of that time.
        let killAfter = durations[op].map { dice.double(0.03...1.0) * $0 }
        let run = try runCLI(cli, args, home: home, killAfter: killAfter)
        if durations[op] == nil { durations[op] = run.seconds }
        if run.killed { kills[op, default: 0] += 1 } else { completedBeforeKill += 1 }
        if o.plant && trial == (trials + 1) / 2 { try plantCorruption(replicaPath) }

        // The replica as the next command finds it.
        let integrityText = (try? integrity(replicaPath)) ?? "cannot open"
        result.expect(integrityText == "ok", "trial \(trial) (\(op)\(run.killed ? ", killed" : "")): integrity_check says \(integrityText.prefix(200))")
        do {
            let replica = try ReplicaDatabase.open(at: replicaPath, schema: DaibanSchema.schema)
            for (k, v) in accepted {
                let read = try name(replica, "township", k)
                if read != v { result.fail("trial \(trial) (\(op)): the accepted write \(k) reads \(read ?? "nothing")") }
            }
        } catch {
            result.fail("trial \(trial) (\(op)): the replica does not open: \(error)")
        }
        let next = try runCLI(cli, ["sync"], home: home)
        result.expect(next.status == 0, "trial \(trial) (\(op)): the next sync failed: \(next.err.prefix(300))")
        if trial % 10 == 0 || trial == trials { progress("  trial \(trial)/\(trials)") }
    }

    // The server holds every accepted write, and the catalogue as the client holds it.
    do {
        let final = try runCLI(cli, ["sync"], home: home)
        result.expect(final.status == 0, "final sync: \(final.err.prefix(300))")
        server.stop()
        let there = try openServerReplica(data)
        for (k, v) in accepted {
            let read = try name(there, "township", k)
            if read != v { result.fail("the server's \(k) reads \(read ?? "nothing"), the client accepted \(v)") }
        }
        let mine = try ReplicaDatabase.open(at: replicaPath, schema: DaibanSchema.schema)
        let ours = try mine.list(table: "catalogue_item").filter { $0.key.hasPrefix("X-") }
        let theirs = try there.list(table: "catalogue_item").filter { $0.key.hasPrefix("X-") }
        result.expect(Set(ours) == Set(theirs), "the server's catalogue (\(theirs.count) items) differs from the client's (\(ours.count))")
    } catch {
        result.fail("the final check could not read a replica: \(error)")
    }

    result.figures.set("trials", Double(trials))
    for op in ops { result.figures.set("kills during \(op)", Double(kills[op] ?? 0)) }
    result.figures.set("runs that finished before the kill", Double(completedBeforeKill))
    result.figures.set("accepted writes checked", Double(accepted.count))
    for (op, s) in durations.sorted(by: { $0.key < $1.key }) { result.figures.set("\(op) seconds (unkilled)", s) }
    return result
}

/// The planted defect: checkpoint the log into the file, then overwrite its second and third pages.
func plantCorruption(_ path: String) throws {
    do {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { throw CheckFailure("cannot open \(path) to plant the defect") }
    let zeros = [UInt8](repeating: 0xA5, count: 8192)
    _ = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, 8192, 4096) }
    close(fd)
    progress("  planted: pages 2–3 of the replica overwritten")
}
