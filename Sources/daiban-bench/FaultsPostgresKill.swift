import BadLink
import Foundation
import ReplicaStore
import SyncServer

/// The server-kill campaign on two instances sharing one PostgreSQL database: SIGKILL of either instance at random
/// moments while four clients push and pull (two through each instance's proxy), then a restart of that instance;
/// once per run PostgreSQL itself crashes (`pg_ctl stop -m immediate`) in the middle of the syncs and comes back.
/// After each fault the database's replica (a copy brought up to its log) holds every change a client holds as
/// acknowledged, and no version was applied twice. At the end every client converges after a final sync, and the
/// audit trail holds each written field exactly once.
///
/// Planted defect: after a kill, the last entries of the log are taken out of the database, as if it had lost
/// transactions it had acknowledged.
func postgresKillCampaign(_ o: FaultOptions, _ dir: URL) async throws -> CampaignResult {
    var result = CampaignResult(name: "postgres-kill")
    var dice = Chance(o.seed)
    let trials = o.trials ?? (o.short ? 8 : 40)
    let cluster = try PostgresCluster(dir: dir.appendingPathComponent("pg").path)
    defer { cluster.stop() }
    let shared = ["DAIBAN_DATABASE": cluster.url]
    let data = (0..<2).map { dir.appendingPathComponent("instance-\($0 + 1)").path }
    try ServerProcess.bootstrap(executable: o.serverPath, data: data[0], user: syncUser, password: syncPassword,
                                environment: shared)
    var servers = try data.map { try ServerProcess(executable: o.serverPath, data: $0, environment: shared) }
    defer { for s in servers { s.stop() } }
    var proxies: [BadLinkProxy] = []
    for s in servers {
        let p = try BadLinkProxy(upstreamPort: s.port, profile: .clean, seed: o.seed)
        try await p.start()
        proxies.append(p)
    }
    var clients: [FieldClient] = []
    for i in 0..<4 {
        clients.append(try await FieldClient.create(dir: dir, name: "c\(i)", url: proxies[i % 2].url, stallSeconds: 10))
    }
    // The replica as the database holds it: a copy that follows the log, checked between faults.
    let follower = dir.appendingPathComponent("follower").path
    var checks = 0
    func checkDatabase(_ label: String) throws -> Int {
        checks += 1
        let copy = dir.appendingPathComponent("check-\(checks)").path
        do {
            _ = try DaibanServer.sharedReplicaCopy(data: follower, database: cluster.url)
        } catch {
            result.fail("\(label): the database's replica could not be followed: \(error)")
            return 0
        }
        _ = try copyFolder(follower, to: copy)
        let replica = try ReplicaDatabase.open(at: copy + "/replica.sqlite", schema: syncClientSchema)
        var checked = 0
        for c in clients {
            let (missing, n) = try missingAcknowledged(c, in: replica)
            checked += n
            if !missing.isEmpty {
                result.fail("\(label): \(missing.count) change(s) \(c.name) holds as acknowledged are not in the database (e.g. \(missing.prefix(3).joined(separator: ", ")))")
            }
        }
        let audited = try auditCounts(copy + "/replica.sqlite")
        if audited.duplicates > 0 { result.fail("\(label): \(audited.duplicates) version(s) applied twice") }
        try? FileManager.default.removeItem(atPath: copy)
        return checked
    }

    var kills = [0, 0], databaseCrashes = 0, failedSyncs = 0, completedSyncs = 0, acknowledgedChecked = 0
    let crashTrial = max(1, trials / 3)
    let plantTrial = o.plant ? (trials + 1) / 2 : -1
    for trial in 1...trials {
        for c in clients { try c.write(rows: dice.int(100...400), noteChars: dice.int(0...2) == 0 ? 200 : 0, dice: &dice) }
        let planted = trial == plantTrial
        let syncs = Task { [clients] in
            await withTaskGroup(of: Bool.self) { group in
                for c in clients { group.addTask { (try? await c.sync(retries: 0)) != nil } }
                var ok = 0
                for await done in group where done { ok += 1 }
                return ok
            }
        }
        // The planted trial lets the syncs finish (so pushes were surely acknowledged) before the fault.
        let finished = planted ? await syncs.value : nil
        if finished == nil { try await Task.sleep(nanoseconds: UInt64(dice.double(0.02...3.0) * 1e9)) }
        let victim = dice.int(0...1)
        if trial == crashTrial {
            try cluster.crash()
            databaseCrashes += 1
        } else {
            servers[victim].crash()
            kills[victim] += 1
        }
        let ok: Int
        if let finished { ok = finished } else { ok = await syncs.value }
        completedSyncs += ok
        failedSyncs += clients.count - ok
        if trial == crashTrial {
            try cluster.start()
        } else {
            do {
                servers[victim] = try ServerProcess(executable: o.serverPath, data: data[victim], environment: shared)
            } catch {
                result.fail("trial \(trial): instance \(victim + 1) did not start again: \(error)")
                break
            }
            try proxies[victim].redirect(toPort: servers[victim].port)
        }
        if planted {
            try await PostgresScratch.execute(on: cluster.url, """
                WITH gone AS (DELETE FROM replica_log WHERE position > (SELECT position - 2 FROM replica_log_head) RETURNING position)
                UPDATE replica_log_head SET position = position - (SELECT count(*) FROM gone)
                """)
            progress("  planted: the database lost the last entries of its log after trial \(trial)")
        }
        acknowledgedChecked += try checkDatabase("trial \(trial)")
        if trial % 10 == 0 || trial == trials {
            progress("  trial \(trial)/\(trials): \(completedSyncs) syncs completed, \(failedSyncs) cut by a fault")
        }
    }

    for _ in 0..<2 {
        for c in clients {
            do { _ = try await c.sync(retries: 2) } catch { result.fail("final sync of \(c.name): \(error)") }
        }
    }
    for s in servers { s.stop() }
    let written = clients.reduce(0) { $0 + $1.fields }
    acknowledgedChecked += try checkDatabase("the end")
    let copy = try copyFolder(follower, to: dir.appendingPathComponent("final").path) + "/replica.sqlite"
    let (rows, audited) = try checkConverged(clients, copy: copy, holder: "the database", &result)
    for c in clients { await c.shutdown() }
    for p in proxies { await p.shutdown() }

    result.figures.set("trials", Double(trials))
    result.figures.set("kills of instance 1", Double(kills[0]))
    result.figures.set("kills of instance 2", Double(kills[1]))
    result.figures.set("PostgreSQL crashes", Double(databaseCrashes))
    result.figures.set("syncs completed", Double(completedSyncs))
    result.figures.set("syncs cut by a fault", Double(failedSyncs))
    result.figures.set("fields written", Double(written))
    result.figures.set("acknowledged fields checked after faults", Double(acknowledgedChecked))
    result.figures.set("fields in the database at the end", Double(rows.values.reduce(0) { $0 + $1.count }))
    result.figures.set("versions applied (audit)", Double(audited.versions))
    result.figures.set("versions applied twice", Double(audited.duplicates))
    return result
}

/// A throwaway PostgreSQL 15 cluster on loopback that a campaign may crash and start again (scripts/with-postgres.sh
/// does the same for the tests, which never restart it).
final class PostgresCluster: @unchecked Sendable {
    let url: String
    private let dir: String
    private let port: Int
    private static let bin = "/usr/lib/postgresql/15/bin"

    init(dir: String) throws {
        self.dir = dir
        guard FileManager.default.isExecutableFile(atPath: Self.bin + "/initdb") else {
            throw CheckFailure("PostgreSQL 15 is not installed (\(Self.bin)); scripts/install-deps.sh postgresql-15 installs it")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres", dir]) }
        port = try freeLoopbackPort()
        url = "postgres://postgres@127.0.0.1:\(port)/postgres?sslmode=disable"
        try Self.run(Self.bin + "/initdb", ["-D", dir + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                            "--locale=C.UTF-8"])
        try start()
    }

    func start() throws {
        try Self.run(Self.bin + "/pg_ctl", ["start", "-w", "-D", dir + "/data", "-l", dir + "/server.log", "-o",
                                            "-c listen_addresses=127.0.0.1 -p \(port) -c unix_socket_directories=\(dir) -c max_connections=200"])
    }

    /// Stops the server as a crash would (no checkpoint; it recovers from its WAL at the next start).
    func crash() throws { try Self.run(Self.bin + "/pg_ctl", ["stop", "-D", dir + "/data", "-m", "immediate"]) }

    func stop() {
        try? crash()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs a command to its end, as the postgres user when running as root (PostgreSQL refuses to run as root).
    /// Spawned and waited for directly: Foundation's `Process` can miss the exit of `pg_ctl start`, whose server
    /// keeps running.
    private static func run(_ executable: String, _ arguments: [String]) throws {
        let argv = getuid() == 0 && !executable.hasPrefix("/bin/")
            ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] + arguments
            : [executable] + arguments
        let outPath = NSTemporaryDirectory() + "daiban-pg-\(getpid())-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw CheckFailure("could not run \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            throw CheckFailure("\((executable as NSString).lastPathComponent) \(arguments.first ?? "") exited with \(code): \(text.suffix(400))")
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on now.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CheckFailure("no socket for a free port") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else { throw CheckFailure("no free port on 127.0.0.1") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
