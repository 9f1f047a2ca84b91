import CaseDomain
import Foundation
import GRDB
import ReplicaStore
import SyncCore
import SyncTesting
import Testing

/// A real `daiban-server` process on a free 127.0.0.1 port; its stdout and stderr go to files.
final class ServerProcess {
    static let binary = URL(fileURLWithPath: Daiban.binary).deletingLastPathComponent()
        .appendingPathComponent("daiban-server").path

    let data: String
    let process = Process()
    let logPath: String
    private(set) var url = ""

    /// Creates the data folder with these users (password `pw-<name>-secret`) and starts serving.
    init(dir: TemporaryDirectory, users: [(String, String)], environment: [String: String] = [:],
         arguments: [String] = [], name: String = "server") throws {
        data = dir.file("server-data")
        logPath = dir.file("\(name).log")
        for (name, role) in users {
            let r = try Daiban.exec(["user", "add", name, "--role", role, "--password-stdin", "--data", data],
                                    stdin: "pw-\(name)-secret", binary: Self.binary)
            try #require(r.status == 0, "user add: \(r.stderr)")
        }
        let outPath = dir.file("\(name).out")
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--data", data, "--port", "0"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["DAIBAN_BCRYPT_COST"] = "4"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            if let line = out.split(separator: "\n").first(where: { $0.contains("listening on ") }),
               let range = line.range(of: "http://") ?? line.range(of: "https://") {
                url = String(line[range.lowerBound...].prefix { $0 != " " })
                return
            }
            try #require(process.isRunning, "daiban-server exited: \(log)")
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("daiban-server did not start: \(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Pull requests served, in order, as logged (`after`, `next`, `fields`) for one device.
    func pulls(device: String) -> [(after: UInt64, next: UInt64, fields: Int)] {
        log.split(separator: "\n").filter { $0.hasSuffix("] pull") && $0.contains(" device_id=\(device) ") }.map { line in
            func value(_ key: String) -> String {
                let start = line.range(of: " \(key)=")!.upperBound
                return String(line[start...].prefix { $0 != " " })
            }
            return (UInt64(value("after"))!, UInt64(value("next"))!, Int(value("fields"))!)
        }
    }

    /// SIGTERM, then waits for the graceful exit.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Adds a user with the command line while the server may be running.
    func addUser(_ name: String, role: String, township: String? = nil) throws {
        let r = try Daiban.exec(["user", "add", name, "--role", role, "--password-stdin", "--data", data]
                                    + (township.map { ["--township", $0] } ?? []),
                                stdin: "pw-\(name)-secret", binary: Self.binary)
        #expect(r.status == 0, "user add: \(r.stderr)")
    }

    deinit { stop() }
}

/// Real processes end to end: one server, `daiban` clients with their own homes.
@Suite(.serialized) struct EndToEndTests {
    /// Signs a home in (init --server + login) and returns its device id.
    @discardableResult
    func attach(_ d: Daiban, _ server: ServerProcess, user: String) throws -> String {
        try d.ok("init", "--server", server.url)
        let out = try d.ok("login", "--user", user, "--password-stdin", stdin: "pw-\(user)-secret")
        let status = try JSONSerialization.jsonObject(with: Data(try d.ok("status", "--json").utf8)) as! [String: Any]
        #expect(status["user"] as? String == user, "\(out)")
        return String(status["device"] as! Int)
    }

    func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    @Test func agentTownshipAndCentreConvergeThroughTheServer() throws {
        let dir = try TemporaryDirectory("e2e")
        defer { dir.cleanup() }
        let server = try ServerProcess(dir: dir, users: [("centre", "center"), ("li", "agent")])
        defer { server.stop() }
        try server.addUser("town", role: "township", township: "T01")   // account commands work while the server runs
        let centre = Daiban(home: dir.file("centre")), agent = Daiban(home: dir.file("agent")),
            town = Daiban(home: dir.file("town"))
        try attach(centre, server, user: "centre")
        try attach(agent, server, user: "li")
        try attach(town, server, user: "town")

        // The centre publishes the roster and a case of township T01 assigned to 李明 (login li).
        try centre.ok("record", "put", "township", "T01", "name=棠下镇", "kind=TOWN")
        try centre.ok("record", "put", "person", "P-LI", "name=李明", "login=li", "roles=AGENT")
        try centre.ok("record", "put", "project", "P1", "name=智能装备生产基地建设项目", "township_id=T01",
                      "total_investment_wan=12000.5")
        try centre.ok("record", "put", "case", "C1", "project_id=P1", "township_id=T01", "agent_id=P-LI", "status=EXECUTING")
        for d in [centre, agent, town] { try d.ok("sync") }
        #expect(try agent.ok("record", "list", "project", "--json") == centre.ok("record", "list", "project", "--json"))

        // Offline: the agent and the township office edit the same field of their case's project, and more.
        try agent.ok("record", "put", "project", "P1", "name=智能装备基地（一期）")
        try agent.ok("record", "put", "project", "P2", "name=冷链物流中心", "township_id=T01")
        try town.ok("record", "put", "project", "P1", "name=智能装备生产基地", "approval_type=备案")
        // The agent also tries what only the office may do: reassign its case.
        try agent.ok("record", "put", "case", "C1", "agent_id=P-OTHER")

        // A field laptop that never goes online hands its bundle to the township, which relays it as signed.
        let field = Daiban(home: dir.file("field"))
        try field.ok("init", "--author", "zhang-field")
        try field.ok("record", "put", "enterprise", "E9", "name=某某食品有限公司")
        try field.ok("export", dir.file("field.bundle"))
        try town.ok("import", dir.file("field.bundle"))

        let agentSync = try agent.run("sync")
        #expect(agentSync.status == 0 && agentSync.stderr.contains("refused 1 change"), "\(agentSync.stderr)")
        for d in [town, centre] { try d.ok("sync") }
        // The refused reassignment stays on the agent's laptop, visible, until the agent takes the server's value back.
        let refused = try json(try agent.ok("rejected", "list", "--json")) as! [[String: Any]]
        #expect(refused.count == 1 && refused.first?["field"] as? String == "agent_id" && refused.first?["reason"] as? String == "forbidden")
        #expect(try agent.ok("status").contains("refused changes: 1"))
        try agent.ok("rejected", "revert", "--all")
        let c1 = try json(try agent.ok("record", "get", "case", "C1", "--json")) as! [String: Any]
        #expect((c1["fields"] as? [String: Any])?["agent_id"] as? String == "P-LI")
        #expect(try agent.ok("rejected", "list", "--json") == "[]\n")

        let conflicts = try json(try centre.ok("conflicts", "list", "--json")) as! [[String: Any]]
        try #require(conflicts.count == 1)
        let c = conflicts[0]
        #expect(c["row"] as? String == "P1" && c["field"] as? String == "name")
        let versions = c["versions"] as! [[String: Any]]
        #expect(Set(versions.compactMap { $0["value"] as? String }) == ["智能装备基地（一期）", "智能装备生产基地"])
        #expect(Set(versions.compactMap { $0["author"] as? String }) == ["li", "town"])
        #expect(Set(versions.compactMap { $0["device_user"] as? String }) == ["li", "town"], "the centre names the devices")
        #expect(versions.allSatisfy { ($0["time"] as? String)?.isEmpty == false })

        try centre.ok("conflicts", "resolve", c["id"] as! String, "--value", "智能装备生产基地（一期）")
        for d in [centre, agent, town] { try d.ok("sync") }
        for d in [centre, agent, town] { #expect(try d.ok("conflicts", "list", "--json") == "[]\n") }
        // Everyone holds what their scope holds, equal to the centre's: the projects of township T01 and of the
        // agent's case (P2 is the agent's own registration, in T01).
        let reference = try centre.ok("record", "list", "project", "--json")
        #expect(try agent.ok("record", "list", "project", "--json") == reference)
        #expect(try town.ok("record", "list", "project", "--json") == reference)
        #expect(try centre.ok("record", "list", "case", "--json") == agent.ok("record", "list", "case", "--json"))
        let p1 = try json(try agent.ok("record", "get", "project", "P1", "--json")) as! [String: Any]
        #expect((p1["fields"] as? [String: Any])?["name"] as? String == "智能装备生产基地（一期）")

        // The relayed enterprise keeps the field agent's authorship; the trail names the township's device.
        let audit = try Daiban.exec(["audit", "--table", "enterprise", "--row", "E9", "--json", "--data", server.data],
                                    binary: ServerProcess.binary)
        let trail = try json(audit.stdout) as! [[String: Any]]
        #expect(trail.count == 1)
        #expect(trail.first?["author"] as? String == "zhang-field")
        #expect(trail.first?["via_user"] as? String == "town")
        // The centre reads the same trail through `daiban history`; an agent sees only its replica's versions.
        let history = try json(try centre.ok("history", "enterprise", "E9", "--json")) as! [String: Any]
        let entries = history["rows"] as! [[String: Any]]
        #expect(entries.count == 1 && entries[0]["source"] as? String == "server")
        #expect(entries[0]["author"] as? String == "zhang-field" && (entries[0]["delivered_by"] as? String)?.hasPrefix("town #") == true)
        #expect(entries[0]["value"] as? String == "某某食品有限公司")
        let local = try json(try agent.ok("history", "project", "P1", "--json")) as! [String: Any]
        #expect((local["rows"] as! [[String: Any]]).allSatisfy { $0["source"] as? String == "replica" })
        // The refusal is at the centre too, with its reason.
        let quarantine = try Daiban.exec(["quarantine", "--json", "--data", server.data], binary: ServerProcess.binary)
        let kept = try json(quarantine.stdout) as! [[String: Any]]
        #expect(kept.contains { $0["field"] as? String == "agent_id" && $0["reason"] as? String == "forbidden" })

        // The server log holds ids, counts and durations: no values, passwords or tokens.
        let log = server.log
        for secret in ["棠下镇", "智能装备", "P-OTHER", "pw-", "dbt1.", "dbr1.", "password"] {
            #expect(!log.contains(secret), "the server log contains \(secret)")
        }
        #expect(log.contains("] push") && log.contains("] pull"))

        // Status reports the server, the user and nothing pending.
        let status = try json(try agent.ok("status", "--json")) as! [String: Any]
        #expect(status["server"] as? String == server.url)
        #expect(status["pending_changes"] as? Int == 0)
        #expect(status["last_sync"] is String)
    }

    @Test func unreachableServerKeepsWorkPending() throws {
        let dir = try TemporaryDirectory("e2e-down")
        defer { dir.cleanup() }
        let server = try ServerProcess(dir: dir, users: [("li", "agent")])
        let agent = Daiban(home: dir.file("agent"))
        try attach(agent, server, user: "li")
        try agent.ok("record", "put", "township", "T01", "name=棠下镇")
        server.stop()
        #expect(server.process.terminationStatus == 0, "SIGTERM stops the server gracefully")
        #expect(server.log.contains("stopped"))
        let started = Date()
        let r = try Daiban.exec(["sync", "--home", agent.home], environment: ["DAIBAN_CONNECT_TIMEOUT": "2"])
        #expect(Date().timeIntervalSince(started) < 15, "no link: one probe, not a retry storm")
        #expect(r.status == 3)
        #expect(r.stderr.contains("1 local change(s) stay pending"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }.count == 1)
        let zh = try Daiban.exec(["sync", "--home", agent.home], lang: "zh_CN.UTF-8",
                                 environment: ["DAIBAN_CONNECT_TIMEOUT": "1"])
        #expect(zh.status == 3 && zh.stderr.contains("数据未丢失：1 个本地变更仍待上传"), "\(zh.stderr)")
        let status = try json(try agent.ok("status", "--json")) as! [String: Any]
        #expect(status["pending_changes"] as? Int == 1)
        // A second sync for the same home while one runs is turned away at once.
        let lock = open(agent.home + "/sync.lock", O_CREAT | O_RDWR, 0o600)
        #expect(flock(lock, LOCK_EX | LOCK_NB) == 0)
        let busy = try agent.run("sync")
        #expect(busy.status == 1 && busy.stderr.contains("another daiban sync is running"), "\(busy.stderr)")
        close(lock)
        // Offline commands keep working.
        try agent.ok("record", "put", "township", "T02", "name=大江镇")
        #expect(try agent.ok("record", "list", "township").contains("大江镇"))
    }

    /// `doctor` tells a clerk what is wrong and what to do, online and offline; `backup` makes a copy that opens
    /// as the same replica with the same rows; a damaged file is a problem, with exit code 1.
    @Test func doctorAndBackupTellTheTruth() throws {
        let dir = try TemporaryDirectory("e2e-doctor")
        defer { dir.cleanup() }
        let server = try ServerProcess(dir: dir, users: [("li", "agent")])
        let agent = Daiban(home: dir.file("agent"))
        try attach(agent, server, user: "li")
        try agent.ok("record", "put", "township", "T01", "name=棠下镇")  // not an agent's to write: refused
        _ = try agent.run("sync")
        func checks(_ extra: String...) throws -> [String: [String: Any]] {
            let r = try Daiban.exec(["doctor", "--home", agent.home, "--json"] + extra, environment: ["DAIBAN_CONNECT_TIMEOUT": "2"])
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try #require((try json(r.stdout) as? [String: Any])?["rows"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["check"] as! String, $0) })
        }
        var c = try checks()
        #expect(c["integrity"]?["state"] as? String == "ok" && c["server"]?["state"] as? String == "ok")
        #expect(c["clock"]?["state"] as? String == "ok" && c["pending"]?["state"] as? String == "ok")
        #expect(c["refused"]?["state"] as? String == "warning" && (c["refused"]?["detail"] as? String)?.contains("1 change") == true)
        #expect(c["disk"] != nil && c["calendar"] != nil)
        server.stop()
        c = try checks()
        #expect(c["server"]?["state"] as? String == "warning", "\(c)")
        #expect(c["clock"]?["state"] as? String == "ok" && (c["clock"]?["detail"] as? String)?.contains("last sync") == true)
        let zh = try Daiban.exec(["doctor", "--home", agent.home, "--offline"], lang: "zh_CN.UTF-8")
        #expect(zh.status == 0 && zh.stdout.contains("副本文件") && zh.stdout.contains("被拒绝的修改"), "\(zh.stdout)")

        let copy = dir.file("agent-backup.sqlite")
        let b = try json(try agent.ok("backup", "--to", copy, "--json")) as! [String: Any]
        #expect((b["bytes"] as? Int ?? 0) > 0)
        #expect(try agent.run("backup", "--to", copy).status == 1, "an existing file is not replaced without --force")
        let attributes = try FileManager.default.attributesOfItem(atPath: copy)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let restored = Daiban(home: dir.file("restored"))
        try FileManager.default.createDirectory(atPath: restored.home, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: copy, toPath: restored.home + "/replica.sqlite")
        #expect(try restored.replicaID() == agent.replicaID())
        #expect(try restored.ok("record", "list", "township").contains("棠下镇"))

        // Damage in the middle of the file: a problem, exit code 1, and the advice.
        let damaged = Daiban(home: dir.file("damaged"))
        try FileManager.default.createDirectory(atPath: damaged.home, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: copy, toPath: damaged.home + "/replica.sqlite")
        let h = try #require(FileHandle(forUpdatingAtPath: damaged.home + "/replica.sqlite"))
        try h.seek(toOffset: 4096 * 5)
        h.write(Data(repeating: 0xFF, count: 4096 * 3))
        try h.close()
        let bad = try damaged.run("doctor")
        #expect(bad.status == 1 && bad.stdout.contains("problem") && bad.stdout.contains("daiban backup"), "\(bad.stdout) \(bad.stderr)")
    }

    /// The operator's backup, taken while the server serves, and its restore: a second server, or a restore,
    /// on the same data folder is refused while one runs; after the restore the clients give back what came
    /// after the copy.
    @Test func serverBackupWhileServingAndRestore() throws {
        let dir = try TemporaryDirectory("e2e-server-backup")
        defer { dir.cleanup() }
        let server = try ServerProcess(dir: dir, users: [("centre", "center")])
        let centre = Daiban(home: dir.file("centre"))
        try attach(centre, server, user: "centre")
        try centre.ok("record", "put", "township", "T01", "name=棠下镇")
        try centre.ok("sync")

        let copy = dir.file("server-backup")
        let made = try Daiban.exec(["backup", "--data", server.data, "--to", copy, "--json"], binary: ServerProcess.binary)
        #expect(made.status == 0, "\(made.stderr)")
        let b = try #require(try json(made.stdout) as? [String: Any])
        #expect(b["users"] as? Int == 1 && b["devices"] as? Int == 1 && (b["field_states"] as? Int ?? 0) > 0, "\(b)")
        let zh = try Daiban.exec(["backup", "--data", server.data, "--to", copy], lang: "zh_CN.UTF-8", binary: ServerProcess.binary)
        #expect(zh.status == 1 && zh.stderr.contains("已存在"), "an existing backup is not replaced without --force: \(zh.stderr)")

        // A second server on the same folder stops at once with the reason; so does a restore.
        let second = Process()
        second.executableURL = URL(fileURLWithPath: ServerProcess.binary)
        second.arguments = ["serve", "--data", server.data, "--port", "0"]
        let errors = Pipe()
        second.standardError = errors
        second.standardOutput = FileHandle.nullDevice
        try second.run()
        let deadline = Date().addingTimeInterval(20)
        while second.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if second.isRunning { second.terminate() }
        second.waitUntilExit()
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(second.terminationStatus == 1 && said.contains("another daiban-server process"), "\(said)")
        let early = try Daiban.exec(["restore", "--data", server.data, "--from", copy], lang: "zh_CN.UTF-8", binary: ServerProcess.binary)
        #expect(early.status == 1 && early.stderr.contains("请先停止"), "\(early.stderr)")

        try centre.ok("record", "put", "township", "T02", "name=备份之后")
        try centre.ok("sync")
        server.stop()
        let restore = try Daiban.exec(["restore", "--data", server.data, "--from", copy], binary: ServerProcess.binary)
        #expect(restore.status == 0 && restore.stdout.contains("before-restore-"), "\(restore.stdout) \(restore.stderr)")
        let restored = try ReplicaDatabase.open(at: server.data + "/replica.sqlite", schema: DaibanSchema.schema)
        #expect(try restored.get(table: "township", key: "T02") == nil, "the copy was taken before T02")

        let again = try ServerProcess(dir: dir, users: [], name: "restarted")
        defer { again.stop() }
        try centre.ok("init", "--server", again.url)
        try centre.ok("sync")
        #expect(try restored.get(table: "township", key: "T02") != nil, "the client gave back what the copy lacked")
    }

    @Test func httpsWithAPrivateCertificate() throws {
        let dir = try TemporaryDirectory("e2e-tls")
        defer { dir.cleanup() }
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                             "-keyout", dir.file("key.pem"), "-out", dir.file("cert.pem")]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl could not make a test certificate")
        let server = try ServerProcess(dir: dir, users: [("li", "agent")],
                                       arguments: ["--tls-cert", dir.file("cert.pem"), "--tls-key", dir.file("key.pem")])
        defer { server.stop() }
        #expect(server.url.hasPrefix("https://"))
        let agent = Daiban(home: dir.file("agent"))
        // Without the certificate the client refuses the connection (and keeps its work).
        try agent.ok("init", "--server", server.url)
        let untrusted = try Daiban.exec(["login", "--user", "li", "--password-stdin", "--home", agent.home], stdin: "pw-li-secret")
        #expect(untrusted.status != 0)
        try agent.ok("init", "--server", server.url, "--ca-file", dir.file("cert.pem"))
        try agent.ok("login", "--user", "li", "--password-stdin", stdin: "pw-li-secret")
        try agent.ok("record", "put", "project", "P1", "name=冷链物流中心")
        let report = try json(try agent.ok("sync", "--json")) as! [String: Any]
        #expect(report["pushed_fields"] as? Int == 1 && (report["refused"] as? [String: Any])?.isEmpty == true)
        // TLS 1.2 and later only: an old client offering TLS 1.0 or 1.1 gets no session at all.
        let port = String(server.url.split(separator: ":").last ?? "")
        func handshake(_ version: String) throws -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["openssl", "s_client", "-connect", "127.0.0.1:" + port, version, "-cipher", "DEFAULT@SECLEVEL=0"]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            p.standardInput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return p.terminationStatus == 0 && text.contains("Cipher is ") && !text.contains("Cipher is (NONE)")
        }
        #expect(try handshake("-tls1_2"), "TLS 1.2 works (the check itself can succeed)")
        #expect(try !handshake("-tls1_1"))
        #expect(try !handshake("-tls1"))
    }

    /// Writes 12,000 enterprises into a new replica in `home` (in process, fast), ready to be attached.
    func loaderReplica(_ home: String) throws -> ReplicaDatabase {
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let source = try ReplicaDatabase.create(at: home + "/replica.sqlite", schema: DaibanSchema.schema)
        var g = SeededGenerator(seed: 7)
        try source.write { tx in
            for i in 0..<12_000 {
                let name = String(String.UnicodeScalarView((0..<24).map { _ in Unicode.Scalar(0x4E00 + UInt32(g.next() % 3000))! }))
                try tx.put(table: "enterprise", key: "E\(i)", ["name": .text(name), "uscc": .text("91\(g.next() % 1_000_000_000)")])
            }
        }
        return source
    }

    /// SIGTERM reaches the server in the middle of a large push: the requests in flight finish, every push is
    /// in the store whole or not at all, and after a restart the sync completes.
    @Test func sigtermDuringAPushLeavesNothingHalfApplied() async throws {
        let dir = try TemporaryDirectory("e2e-term")
        defer { dir.cleanup() }
        let env = ["DAIBAN_PULL_CHUNK_BYTES": "8192"]
        let first = try ServerProcess(dir: dir, users: [("loader", "township"), ("centre", "center")], environment: env)
        let loader = Daiban(home: dir.file("loader"))
        let source = try loaderReplica(loader.home)
        try attach(loader, first, user: "loader")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Daiban.binary)
        p.arguments = ["sync", "--home", loader.home, "--retries", "0", "--chunk-bytes", "8192"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while first.log.components(separatedBy: "] push").count < 3 && Date() < deadline && p.isRunning {
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        first.stop()
        p.waitUntilExit()
        #expect(first.process.terminationStatus == 0)
        #expect(first.log.contains("stopped"))
        // Each logged push is in the store whole; nothing else is.
        let applied = first.log.split(separator: "\n").filter { $0.hasSuffix("] push") }.map { line -> Int in
            let start = line.range(of: " applied=")!.upperBound
            return Int(line[start...].prefix { $0 != " " })!
        }
        let stored = try ReplicaDatabase.open(at: first.data + "/replica.sqlite", schema: DaibanSchema.schema)
        #expect(try stored.status().fieldStates == applied.reduce(0, +))
        #expect(applied.reduce(0, +) < 24_000, "the push was interrupted")

        let second = try ServerProcess(dir: dir, users: [], environment: env, name: "restarted")
        defer { second.stop() }
        try loader.ok("init", "--server", second.url)
        try loader.ok("sync")
        let centre = Daiban(home: dir.file("centre"))
        try attach(centre, second, user: "centre")
        try centre.ok("sync")
        let copy = try ReplicaDatabase.open(at: centre.home + "/replica.sqlite", schema: DaibanSchema.schema)
        #expect(try copy.snapshot() == source.snapshot())
    }

    /// SIGKILL the client in the middle of a large pull; the next sync completes, nothing is duplicated or lost,
    /// and at most the chunk being applied and the one fetched meanwhile are fetched again.
    @Test func killedPullResumesFromTheLastChunk() async throws {
        let dir = try TemporaryDirectory("e2e-kill")
        defer { dir.cleanup() }
        let server = try ServerProcess(dir: dir, users: [("loader", "agent"), ("centre", "center")],
                                       environment: ["DAIBAN_PULL_CHUNK_BYTES": "8192"])
        defer { server.stop() }
        // The loader's replica is made in process (fast), then attached to the server like any home.
        let loader = Daiban(home: dir.file("loader"))
        let source = try loaderReplica(loader.home)
        try attach(loader, server, user: "loader")
        try loader.ok("sync")

        let centre = Daiban(home: dir.file("centre"))
        let device = try attach(centre, server, user: "centre")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Daiban.binary)
        p.arguments = ["sync", "--home", centre.home]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while server.pulls(device: device).count < 5 && Date() < deadline && p.isRunning {
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let firstRun = server.pulls(device: device)
        try #require(firstRun.count >= 5, "the pull was too short to interrupt")
        try #require(firstRun.last!.next < UInt64(try source.currentSeq()) || firstRun.count > 5)

        let committed = UInt64(try ReplicaDatabase.open(at: centre.home + "/replica.sqlite", schema: DaibanSchema.schema)
            .syncState("pull.cursor") ?? "0")!
        try centre.ok("sync")
        let all = server.pulls(device: device)
        let secondRun = all.dropFirst(firstRun.count)
        // The second run starts exactly where the last applied chunk ended.
        #expect(secondRun.first?.after == committed)
        // Chunks served in the first run but never applied: at most the one being applied and, on this fast link,
        // the one fetched meanwhile.
        #expect(firstRun.filter { $0.after >= committed }.count <= 2)
        // Every field arrives once: the applied chunks of run one plus run two add up to the server's whole state.
        let delivered = firstRun.filter { $0.after < committed }.map(\.fields).reduce(0, +) + secondRun.map(\.fields).reduce(0, +)
        #expect(delivered == 24_000)
        let copy = try ReplicaDatabase.open(at: centre.home + "/replica.sqlite", schema: DaibanSchema.schema)
        #expect(try copy.snapshot() == source.snapshot())
    }

    /// Someone guesses at a clerk's password until the server pauses her sign-ins; the operator sees the block in
    /// `user blocks` and lifts it with `user unblock` while the server runs, and she signs in at once.
    @Test func anOperatorLiftsASignInBlock() throws {
        let dir = try TemporaryDirectory("e2e")
        defer { dir.cleanup() }
        let server = try ServerProcess(dir: dir, users: [("wangfang", "agent")])
        defer { server.stop() }
        let laptop = Daiban(home: dir.file("laptop"))
        try laptop.ok("init", "--server", server.url)
        for _ in 0..<5 {
            let r = try Daiban.exec(["login", "--user", "wangfang", "--password-stdin", "--home", laptop.home], stdin: "a-wrong-guess")
            #expect(r.status != 0)
        }
        // The fifth guess paused her sign-ins from here for a second; ten minutes, as after a long run of guesses,
        // keeps the test off the clock.
        let accounts = try DatabaseQueue(path: server.data + "/accounts.sqlite")
        try accounts.write { db in
            try db.execute(sql: "UPDATE login_counter SET blocked_until = ? WHERE key LIKE 'p:%'",
                           arguments: [Int64(Date().timeIntervalSince1970) + 600])
        }
        try accounts.close()
        let paused = try Daiban.exec(["login", "--user", "wangfang", "--password-stdin", "--home", laptop.home],
                                     lang: "zh_CN.UTF-8", stdin: "pw-wangfang-secret")
        #expect(paused.status != 0 && paused.stderr.contains("已暂停登录"), "the right password is paused too: \(paused.stderr)")

        let listed = try Daiban.exec(["user", "blocks", "--json", "--data", server.data], binary: ServerProcess.binary)
        let entries = try json(listed.stdout) as! [[String: Any]]
        let pair = entries.first { $0["kind"] as? String == "pair" }
        #expect(pair?["user"] as? String == "wangfang" && pair?["address"] as? String == "127.0.0.1"
                && pair?["failures"] as? Int == 5 && pair?["blocked_until"] is Int, "\(listed.stdout)")
        let table = try Daiban.exec(["user", "blocks", "--data", server.data], lang: "zh_CN.UTF-8", binary: ServerProcess.binary)
        #expect(table.stdout.contains("用户＋地址") && table.stdout.contains("wangfang"), "\(table.stdout)")

        let nobody = try Daiban.exec(["user", "unblock", "nobody", "--data", server.data], binary: ServerProcess.binary)
        #expect(nobody.status != 0 && nobody.stderr.contains("nobody"))
        let lifted = try Daiban.exec(["user", "unblock", "wangfang", "--data", server.data], lang: "zh_CN.UTF-8",
                                     binary: ServerProcess.binary)
        #expect(lifted.status == 0 && lifted.stdout.contains("已清除 2 项登录计数"), "\(lifted.stdout)\(lifted.stderr)")
        try laptop.ok("login", "--user", "wangfang", "--password-stdin", stdin: "pw-wangfang-secret")
        // The address's own count stays: it counts every name tried from there.
        let left = try json(try Daiban.exec(["user", "blocks", "--json", "--data", server.data], binary: ServerProcess.binary).stdout)
            as! [[String: Any]]
        #expect(left.map { $0["kind"] as? String } == ["address"], "\(left)")
    }
}
