import BadLink
import CaseDomain
import Foundation
import GRDB
import ReplicaStore
import SyncClient
import SyncCore
import SyncProtocol
import Synchronization

// The fault campaigns: `daiban-bench faults CAMPAIGN`. Each one drives real `daiban-server` (and for some,
// `daiban`) processes through a fault, checks what the reliability promise says must hold, and prints its
// figures. `--short` is the CI size; `--plant` injects a known defect and succeeds only if the campaign's
// checks catch it (a campaign that cannot fail proves nothing).

let faultsUsage = """
    usage: daiban-bench faults CAMPAIGN [--short] [--plant] [--json] [--trials N] [--minutes M] [--clients N]
                                        [--dir D] [--server PATH] [--daiban PATH] [--seed N]

      CAMPAIGN is one of
        link         a township's day of work (about 2,000 field changes, 200-character notes) synced under the
                     2g, flaky and silent profiles of the bad-link simulator, against a clean link
        server-kill  SIGKILL of the server at random moments while several clients push and pull; restart each
                     time; acknowledged changes present, nothing applied twice, everyone converges
        client-kill  SIGKILL of the daiban CLI during sync, bundle import and catalogue import; the replica
                     passes integrity_check, accepted writes and pending changes are intact, the next sync completes
        disk-full    a client home and the server's data folder on small tmpfs mounts (needs root): clear errors,
                     nothing partial, the session survives, all recovers when space returns
        soak         many clients syncing for minutes; the server's RSS and open descriptors stay flat, no error
        postgres-kill  server-kill on two instances sharing one PostgreSQL (a throwaway cluster of its own): SIGKILL
                     of either instance, and one crash of PostgreSQL itself per run
        all          every campaign in turn

      --short      the CI size (seconds to a minute each) instead of the full one
      --plant      inject the campaign's planted defect; succeed only if the campaign detects it
      --trials N   kill trials (server-kill: default 50, short 8; postgres-kill: default 40, short 8;
                   client-kill: default 60, short 9)
      --minutes M  soak length (default 30, short 1)
      --clients N  soak clients (default 100, short 20)
      --dir D      working folder (default: a fresh one under /tmp, removed afterwards unless a check failed)
      --server, --daiban  the executables (default: next to this one)
      --seed N     the random choices (default 1)
    Progress goes to stderr, figures to stdout.
    """

struct FaultOptions {
    var campaigns: [String] = []
    var short = false
    var plant = false
    var json = false
    var trials: Int?
    var minutes: Double?
    var clients: Int?
    var dir: String?
    var server: String?
    var daiban: String?
    var seed: UInt64 = 1

    static let names = ["link", "server-kill", "client-kill", "disk-full", "soak", "postgres-kill"]

    static func parse(_ args: [String]) -> FaultOptions? {
        guard args.count >= 2, args[0] == "faults" else { return nil }
        var o = FaultOptions()
        if args[1] == "all" { o.campaigns = names } else if names.contains(args[1]) { o.campaigns = [args[1]] } else { return nil }
        var i = 2
        func value() -> String? {
            guard i + 1 < args.count else { return nil }
            defer { i += 2 }
            return args[i + 1]
        }
        while i < args.count {
            switch args[i] {
            case "--short": o.short = true; i += 1
            case "--plant": o.plant = true; i += 1
            case "--json": o.json = true; i += 1
            case "--trials": guard let n = value().flatMap(Int.init), n > 0 else { return nil }; o.trials = n
            case "--minutes": guard let m = value().flatMap(Double.init), m > 0 else { return nil }; o.minutes = m
            case "--clients": guard let n = value().flatMap(Int.init), n > 0 else { return nil }; o.clients = n
            case "--dir": guard let d = value() else { return nil }; o.dir = d
            case "--server": guard let p = value() else { return nil }; o.server = p
            case "--daiban": guard let p = value() else { return nil }; o.daiban = p
            case "--seed": guard let n = value().flatMap(UInt64.init) else { return nil }; o.seed = n
            default: return nil
            }
        }
        return o
    }

    var serverPath: String { server ?? defaultServerPath() }
    var daibanPath: String {
        daiban ?? URL(fileURLWithPath: defaultServerPath()).deletingLastPathComponent().appendingPathComponent("daiban").path
    }
}

/// What one campaign found: its figures, and every broken promise.
struct CampaignResult {
    var name: String
    var figures = Metrics()
    var failures: [String] = []

    mutating func fail(_ message: String) {
        progress("FAILED: " + message)
        if failures.count < 50 { failures.append(message) }
    }

    mutating func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }
}

func runFaults(_ o: FaultOptions) async throws -> Int32 {
    let root = o.dir.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory
        .appendingPathComponent("daiban-faults-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    var results: [CampaignResult] = []
    for name in o.campaigns {
        let dir = root.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        progress("campaign \(name)\(o.short ? " (short)" : "")\(o.plant ? ", with its planted defect" : "")")
        let t0 = now()
        var result: CampaignResult
        do {
            switch name {
            case "link": result = try await linkCampaign(o, dir)
            case "server-kill": result = try await serverKillCampaign(o, dir)
            case "client-kill": result = try await clientKillCampaign(o, dir)
            case "disk-full": result = try await diskFullCampaign(o, dir)
            case "postgres-kill": result = try await postgresKillCampaign(o, dir)
            default: result = try await soakCampaign(o, dir)
            }
        } catch {
            await FieldClient.shutdownAll()
            throw error
        }
        await FieldClient.shutdownAll()
        result.figures.set("seconds", now() - t0)
        results.append(result)
    }
    printCampaigns(results, o)
    let failed = results.filter { !$0.failures.isEmpty }
    if o.dir == nil && failed.isEmpty { try? FileManager.default.removeItem(at: root) }
    if !failed.isEmpty { progress("kept for inspection: \(root.path)") }
    if o.plant {
        let missed = results.filter { $0.failures.isEmpty }.map(\.name)
        if missed.isEmpty {
            progress("every planted defect was detected")
            return 0
        }
        progress("planted defect NOT detected by: \(missed.joined(separator: ", "))")
        return 1
    }
    return failed.isEmpty ? 0 : 1
}

func printCampaigns(_ results: [CampaignResult], _ o: FaultOptions) {
    if o.json {
        let items = results.map { r -> String in
            let figures = r.figures.items.map { "\(jsonString($0.key)): \(jsonNumber($0.value))" }.joined(separator: ", ")
            let failures = r.failures.map(jsonString).joined(separator: ", ")
            return "{\"campaign\": \(jsonString(r.name)), \"short\": \(o.short), \"planted\": \(o.plant), "
                + "\"passed\": \(r.failures.isEmpty), \"figures\": {\(figures)}, \"failures\": [\(failures)]}"
        }
        print("[" + items.joined(separator: ",\n ") + "]")
        return
    }
    for r in results {
        print("\(r.name)\(o.short ? " (short)" : "")\(o.plant ? " [planted defect]" : ""): "
              + (r.failures.isEmpty ? "all checks held" : "\(r.failures.count) check(s) failed"))
        let width = r.figures.items.map(\.key.count).max() ?? 0
        for (key, value) in r.figures.items {
            print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + jsonNumber(value))
        }
        for f in r.failures { print("  FAILED: " + f) }
    }
}

// MARK: Shared pieces

/// The campaigns' random choices, repeatable from `--seed` (the bench's seeded generator).
struct Chance {
    var g: SeededGenerator
    init(_ seed: UInt64) { g = SeededGenerator(seed: seed) }
    mutating func next() -> UInt64 { g.next() }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func double(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + Double(next() >> 11) / Double(1 << 53) * (range.upperBound - range.lowerBound)
    }
    /// `n` common Chinese characters (little redundancy for zlib, as typed notes have).
    mutating func chinese(_ n: Int) -> String {
        String(String.UnicodeScalarView((0..<n).map { _ in Unicode.Scalar(0x4E00 + UInt32(next() % 3000))! }))
    }
}

/// The wall clock in Unix milliseconds (campaign clients sign bundles and sign in with real time).
let wallMillis: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }

/// One in-process field device: a replica file, a connection and a session, signed in as the bootstrap
/// (centre) account. Its rows are its own (`<name>-<n>`), so every other replica can be checked against it.
final class FieldClient: @unchecked Sendable {
    let name: String
    let path: String
    let replica: ReplicaDatabase
    let connection: ServerConnection
    var tokens: SessionTokens
    /// Rows written so far (the next row is `<name>-<rows>`), and field values written.
    var rows = 0
    var fields = 0

    init(name: String, path: String, replica: ReplicaDatabase, connection: ServerConnection, tokens: SessionTokens) {
        self.name = name
        self.path = path
        self.replica = replica
        self.connection = connection
        self.tokens = tokens
    }

    static func create(dir: URL, name: String, url: String, stallSeconds: Int = ServerConnection.defaultStallSeconds)
        async throws -> FieldClient
    {
        let path = dir.appendingPathComponent("\(name).sqlite").path
        var replica = try ReplicaDatabase.create(at: path, schema: syncClientSchema, author: syncUser, now: wallMillis)
        replica.signer = DeviceKey()
        let connection = try ServerConnection(url: url, stallSeconds: stallSeconds)
        var attempt = 0
        while true {
            do {
                let tokens = try await connection.login(user: syncUser, password: syncPassword, replica: replica.id,
                                                        deviceName: name, signer: replica.signer)
                let client = FieldClient(name: name, path: path, replica: replica, connection: connection, tokens: tokens)
                open.withLock { $0.append(client) }
                return client
            } catch let e as SyncClientError where e.code == "too_many_attempts" && attempt < 20 {
                // Many devices signing in as one user from one address meet the login limit: wait as told.
                attempt += 1
                if case .server(_, _, _, let after?) = e { try await Task.sleep(nanoseconds: UInt64(after) * 1_000_000_000) }
            } catch {
                await connection.shutdown()
                throw error
            }
        }
    }

    /// Writes `count` new rows of the twelve bench fields in one transaction; `noteChars` > 0 gives each row a
    /// note of that many characters. Returns the field values written.
    @discardableResult
    func write(rows count: Int, noteChars: Int, dice: inout Chance) throws -> Int {
        var written = 0
        try replica.write { tx in
            for _ in 0..<count {
                var values: [String: FieldValue] = [:]
                for f in benchFields {
                    switch f {
                    case "invest_wan", "jobs": values[f] = .int(Int64(dice.int(1...90_000)))
                    case "note": values[f] = .text(noteChars > 0 ? dice.chinese(noteChars) : "")
                    case "signed_on", "due_on": values[f] = .text("2026-\(dice.int(10...12))-\(dice.int(10...28))")
                    default: values[f] = .text(dice.chinese(dice.int(2...12)))
                    }
                }
                try tx.put(table: benchTable, key: "\(name)-\(rows)", values)
                rows += 1
                written += values.count
            }
        }
        fields += written
        return written
    }

    /// One whole sync (push, pull); tokens are kept in memory across syncs.
    func sync(retries: Int = 4, chunkBytes: Int = 256 << 10) async throws -> SyncReport {
        let s = Synchronizer(replica: replica, connection: connection, tokens: tokens,
                             saveTokens: { [weak self] t in self?.tokens = t })
        s.retries = retries
        s.baseDelay = 0.2
        s.chunkBytes = chunkBytes
        return try await s.run()
    }

    /// The push cursor: every own change at or below it was acknowledged by the server.
    func acknowledged() throws -> UInt64 { UInt64(try replica.syncState(SyncStateKey.pushCursor) ?? "0") ?? 0 }

    func shutdown() async {
        let wasClosed = closed.withLock { c -> Bool in
            defer { c = true }
            return c
        }
        guard !wasClosed else { return }
        await connection.shutdown()
    }

    private let closed = Mutex(false)
    /// Every client created, so that a campaign that fails half-way still shuts their connections down.
    private static let open = Mutex<[FieldClient]>([])

    static func shutdownAll() async {
        for c in open.withLock({ list in defer { list = [] }; return list }) { await c.shutdown() }
    }
}

/// The acknowledged own changes of `client` that `server` does not hold. Every own field change at or below
/// the client's push cursor (its local sequence number, read from the file) was acknowledged, so the server's
/// version vector of that field must cover the client's.
func missingAcknowledged(_ client: FieldClient, in server: ReplicaDatabase) throws -> (missing: [String], checked: Int) {
    let cursor = try client.acknowledged()
    guard cursor > 0 else { return ([], 0) }
    let queue = try DatabaseQueue(path: client.path, configuration: { var c = Configuration(); c.readonly = true; return c }())
    let acked = try queue.read { db in
        try Row.fetchAll(db, sql: """
            SELECT r.key, n.name FROM field f JOIN row r ON r.id = f.row JOIN field_name n ON n.id = f.field
            WHERE r.tbl = ? AND f.writer = 1 AND f.seq <= ?
            """, arguments: [benchTable, Int64(cursor)]).map { (key: $0[0] as String, field: $0[1] as String) }
    }
    var missing: [String] = []
    var byRow: [String: [String]] = [:]
    for a in acked { byRow[a.key, default: []].append(a.field) }
    for (key, fields) in byRow {
        let mine = try client.replica.rowState(table: benchTable, key: key)
        let there = try server.rowState(table: benchTable, key: key)
        for f in fields {
            guard let vv = mine?.fields[f]?.vv else { continue }
            let known = there?.fields[f].map { [.after, .equal].contains($0.vv.compare(vv)) } ?? false
            if !known { missing.append("\(key).\(f)") }
        }
    }
    return (missing.sorted(), acked.count)
}

/// Rows of the bench table a replica holds, by key (values only), for convergence checks.
func benchRows(_ r: ReplicaDatabase) throws -> [String: [String: FieldValue]] {
    var out: [String: [String: FieldValue]] = [:]
    for rec in try r.list(table: benchTable) {
        out[rec.key] = Dictionary(uniqueKeysWithValues: rec.fields.map { ($0.name, $0.value) })
    }
    return out
}

/// A copy of the server's replica file (and its log, as a crash left them), taken while the server is down, so
/// that checking it changes nothing the server will open again. Returns the copy's path.
func copyServerReplica(_ data: String) throws -> String {
    let copy = data + "-check"
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
    for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: data + "/replica.sqlite" + suffix) {
        try FileManager.default.copyItem(atPath: data + "/replica.sqlite" + suffix, toPath: copy + "/replica.sqlite" + suffix)
    }
    return copy + "/replica.sqlite"
}

/// The server's replica as a crash left it (a copy, or the copy at `copy`), opened with the clients' schema
/// (the bench table too).
func openServerReplica(_ data: String, copy: String? = nil) throws -> ReplicaDatabase {
    try ReplicaDatabase.open(at: copy ?? copyServerReplica(data), schema: syncClientSchema)
}

/// The `name` field of a row, as text.
func name(_ r: ReplicaDatabase, _ table: String, _ key: String) throws -> String? {
    try r.get(table: table, key: key)?.fields.first { $0.name == "name" }?.value.displayText
}

/// A fresh server (bootstrapped with the campaign account) on `data`, and a clean proxy in front of it whose
/// port stays when the server is restarted elsewhere (`proxy.redirect`).
func serverBehindProxy(_ o: FaultOptions, data: String) async throws -> (ServerProcess, BadLinkProxy) {
    try ServerProcess.bootstrap(executable: o.serverPath, data: data, user: syncUser, password: syncPassword)
    let server = try ServerProcess(executable: o.serverPath, data: data)
    do {
        let proxy = try BadLinkProxy(upstreamPort: server.port, profile: .clean, seed: o.seed)
        try await proxy.start()
        return (server, proxy)
    } catch {
        server.stop()
        throw error
    }
}

/// Runs `body` with a deadline: nil when it did not finish in `seconds` (it is cancelled).
func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
