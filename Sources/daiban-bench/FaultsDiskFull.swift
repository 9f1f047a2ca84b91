import CaseDomain
import Foundation
import SyncCore
import ReplicaStore
import SyncClient

/// Runs a system command (mount, umount), failing with its output.
func system(_ args: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw CheckFailure("\(args.joined(separator: " ")): \(text)") }
}

/// Bytes used on the file system holding `path`.
func usedBytes(_ path: String) -> Int {
    var s = statvfs()
    guard statvfs(path, &s) == 0 else { return 0 }
    return Int(s.f_blocks - s.f_bfree) * Int(s.f_frsize)
}

/// Whether `session.json` in `home` still holds a session (a refresh token).
func sessionIntact(_ home: String) -> Bool {
    guard let data = FileManager.default.contents(atPath: home + "/session.json"),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return false }
    return (json["refreshToken"] ?? json["refresh_token"]) is String
}

/// A client home and the server's data folder on small tmpfs mounts. The client writes until its disk is full:
/// the failing command says so in plain words (and in Chinese under zh_CN), the replica keeps every accepted
/// write and passes integrity_check, the session survives a sync attempted on the full disk, and with space back
/// the same write and a sync succeed. Then the server's disk fills during a push: the client is told the
/// server's disk is full, keeps its changes, the server keeps serving, and with space back the next sync
/// delivers everything without signing in again.
///
/// Planted defect: after the client's disk fills, its session file is left empty (what writing it in place,
/// without the temporary file and rename, would leave).
func diskFullCampaign(_ o: FaultOptions, _ dir: URL) async throws -> CampaignResult {
    var result = CampaignResult(name: "disk-full")
    guard geteuid() == 0 else {
        result.fail("this campaign mounts tmpfs file systems and must run as root")
        return result
    }
    var dice = Chance(o.seed)
    let cli = o.daibanPath
    let clientFS = dir.appendingPathComponent("clientfs").path
    let serverFS = dir.appendingPathComponent("serverfs").path
    for p in [clientFS, serverFS] { try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true) }
    try system(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", serverFS])
    defer { try? system(["umount", "-l", serverFS]) }
    try system(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", clientFS])
    defer { try? system(["umount", "-l", clientFS]) }

    let data = serverFS + "/data"
    try ServerProcess.bootstrap(executable: o.serverPath, data: data, user: syncUser, password: syncPassword)
    var server = try ServerProcess(executable: o.serverPath, data: data)
    defer { server.stop() }
    let home = clientFS + "/home"
    let initRun = try runCLI(cli, ["init", "--server", server.url, "--user", syncUser, "--password-stdin"], home: home,
                             stdin: syncPassword + "\n")
    try check(initRun.status == 0, "daiban init: \(initRun.err)")

    // 1. The client's disk fills up.
    var accepted: [String: String] = [:]
    var failed: CLIRun?
    var failedArgs: [String] = []
    for i in 0..<1000 {
        let key = "F\(i)", value = dice.chinese(3000)
        let args = ["record", "put", "township", key, "name=\(value)"]
        let run = try runCLI(cli, args, home: home)
        if run.status == 0 {
            accepted[key] = value
        } else {
            failed = run
            failedArgs = args
            break
        }
    }
    result.figures.set("client: writes accepted before the disk was full", Double(accepted.count))
    guard let failed else {
        result.fail("client: 1,000 writes of 9 KB fitted on a 2 MB disk; the disk never filled")
        return result
    }
    result.expect(failed.err.contains("disk is full") && failed.err.contains("not kept") && failed.err.contains("nothing written before was lost"),
                  "client: the failing write does not say the disk is full, that it was not kept and nothing else lost: \(failed.err.prefix(300))")
    let zh = try runCLI(cli, failedArgs, home: home, environment: ["LANG": "zh_CN.UTF-8", "LC_ALL": "zh_CN.UTF-8"])
    result.expect(zh.status != 0 && zh.err.contains("磁盘"), "client: under zh_CN the message is not Chinese: \(zh.err.prefix(300))")
    // A sync on the full disk: it may fail, but clearly, and the session must survive it.
    let fullSync = try runCLI(cli, ["sync"], home: home)
    result.figures.set("client: sync on the full disk exit status", Double(fullSync.status ?? -1))
    if fullSync.status != 0 {
        result.expect(fullSync.err.contains("disk is full"), "client: a sync on the full disk fails without saying why: \(fullSync.err.prefix(300))")
    }
    if o.plant {
        FileManager.default.createFile(atPath: home + "/session.json", contents: Data())
        progress("  planted: session.json left empty")
    }
    result.expect(sessionIntact(home), "client: the session did not survive the full disk")
    // Nothing partial: a copy of the replica outside the full disk passes integrity_check and holds every
    // accepted write, and not the refused one.
    let copy = dir.appendingPathComponent("client-copy").path
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: home, toPath: copy)
    try? FileManager.default.removeItem(atPath: copy + "/replica.sqlite-shm")
    let integrityText = (try? integrity(copy + "/replica.sqlite")) ?? "cannot open"
    result.expect(integrityText == "ok", "client: integrity_check after the full disk says \(integrityText.prefix(200))")
    do {
        let replica = try ReplicaDatabase.open(at: copy + "/replica.sqlite", schema: DaibanSchema.schema)
        for (k, v) in accepted where try name(replica, "township", k) != v {
            result.fail("client: the accepted write \(k) is not intact")
        }
        result.expect(try replica.get(table: "township", key: failedArgs[3]) == nil, "client: the refused write was kept in part")
    }

    // Space returns: the same write and a sync succeed, without signing in again.
    try system(["mount", "-o", "remount,size=256m", clientFS])
    let retry = try runCLI(cli, failedArgs, home: home)
    result.expect(retry.status == 0, "client: with space back, the write still fails: \(retry.err.prefix(300))")
    if retry.status == 0 { accepted[failedArgs[3]] = String(failedArgs[4].dropFirst(5)) }
    let sync1 = try runCLI(cli, ["sync"], home: home)
    result.expect(sync1.status == 0, "client: with space back, the sync fails: \(sync1.err.prefix(300))")

    // 2. The server's disk fills during a push.
    let used = usedBytes(serverFS)
    try system(["mount", "-o", "remount,size=\(used + (1 << 20))", serverFS])
    // One catalogue import of 3,000 items with 500-character names: about 3 MB to push.
    var csv = "code,name,department_id,default_kind,committed_limit,committed_unit\n"
    var big: [String: String] = [:]
    for i in 0..<3000 {
        let key = "S-\(i)", value = dice.chinese(500)
        csv += "\(key),\(value),D-FG,COMMITTED,5,WD\n"
        big[key] = value
    }
    let csvPath = dir.appendingPathComponent("big-catalogue.csv").path
    try csv.write(toFile: csvPath, atomically: true, encoding: .utf8)
    let imported = try runCLI(cli, ["catalogue", "import", csvPath], home: home)
    try check(imported.status == 0, "catalogue import: \(imported.err)")
    let pushFull = try runCLI(cli, ["sync"], home: home)
    result.figures.set("server: free space before the push (bytes)", Double(1 << 20))
    result.expect(pushFull.status != 0, "server: a 5 MB push fitted in 1 MB of free space")
    result.expect(pushFull.err.contains("storage_full") || pushFull.err.contains("disk is full"),
                  "server: the client is not told that the server's disk is full: \(pushFull.err.prefix(300))")
    let health = try ServerConnection(url: server.url, stallSeconds: 10)
    do {
        _ = try await health.health()
    } catch {
        result.fail("server: not serving after its disk filled: \(error)")
    }
    await health.shutdown()
    result.expect(sessionIntact(home), "client: the session did not survive the server's full disk")
    try system(["mount", "-o", "remount,size=512m", serverFS])
    let sync2 = try runCLI(cli, ["sync"], home: home)
    result.expect(sync2.status == 0, "server: with space back, the sync fails: \(sync2.err.prefix(300))")
    result.expect(!sync2.err.contains("sign in") && !sync2.out.contains("sign in"), "client: had to sign in again")
    server.stop()
    let integrityServer = (try? integrity(data + "/replica.sqlite")) ?? "cannot open"
    result.expect(integrityServer == "ok", "server: integrity_check says \(integrityServer.prefix(200))")
    let there = try openServerReplica(data)
    var missing = 0
    for (k, v) in accepted where try name(there, "township", k) != v { missing += 1 }
    for (k, v) in big where try name(there, "catalogue_item", k) != v { missing += 1 }
    result.expect(missing == 0, "server: \(missing) accepted writes are not on the server after recovery")
    result.figures.set("server: rows delivered after recovery", Double(accepted.count + big.count - missing))
    server = try ServerProcess(executable: o.serverPath, data: data)
    return result
}
