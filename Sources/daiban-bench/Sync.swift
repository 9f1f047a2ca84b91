import CaseDomain
import Foundation
import ReplicaStore
import SyncClient
import SyncCore
import SyncProtocol

/// The clients' schema: the domain tables the server declares (`DaibanSchema.schema`) plus the bench table.
/// The server does not declare `bench_case`; it stores and forwards it unchanged, as it does every table it
/// does not know (its schema check then skips the type validation of incoming values).
let syncClientSchema = DaibanSchema.schema.adding(Array(benchSchema.tables.values))

/// The bootstrap (centre) account the clients sign in with. Centre devices may relay and fetch the directory.
let syncUser = "admin"
let syncPassword = "bench-password-0123456789"

/// The `daiban-server` next to this executable (same build folder).
func defaultServerPath() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("daiban-server").path
}

/// One client's sync, timed from the outside: push and pull parts are told apart by the progress callbacks.
struct TimedSync {
    var report: SyncReport
    /// From `run` to the last push chunk's progress (the push is the first part of `run`); 0 without a push.
    var pushS: Double
    /// From the end of the push (or the start of `run`) to the last pull chunk's progress.
    var pullS: Double
    /// The whole `run`: push, pull, and for centre accounts the device directory.
    var totalS: Double
}

/// Set once, read from another task.
final class DoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    var isSet: Bool { lock.withLock { done } }
    func set() { lock.withLock { done = true } }
}

/// The refresh token of the moment (each refresh hands out the next).
final class TokenBox: @unchecked Sendable {
    private let lock = NSLock()
    private var token: String
    init(_ token: String) { self.token = token }
    var value: String {
        get { lock.withLock { token } }
        set { lock.withLock { token = newValue } }
    }
}

/// One client: a replica file, a connection and a session.
struct SyncClientSide {
    let replica: ReplicaDatabase
    let connection: ServerConnection
    let tokens: SessionTokens

    static func create(path: String, id: UInt64, url: String, clock: @escaping @Sendable () -> UInt64) async throws
        -> SyncClientSide
    {
        // The CLI records the signed-in user as author (`daiban login`); here the replica is created with it.
        var replica = try ReplicaDatabase.create(at: path, schema: syncClientSchema, id: replicaID(id),
                                                 author: syncUser, now: clock)
        replica.signer = DeviceKey()  // every bundle a client pushes is signed, as the CLI's are
        let connection = try ServerConnection(url: url)
        do {
            let tokens = try await connection.login(user: syncUser, password: syncPassword, replica: replica.id,
                                                    deviceName: "bench-\(id)", signer: replica.signer)
            return SyncClientSide(replica: replica, connection: connection, tokens: tokens)
        } catch {
            await connection.shutdown()
            throw error
        }
    }

    func sync() async throws -> TimedSync {
        let s = Synchronizer(replica: replica, connection: connection, tokens: tokens, saveTokens: { _ in })
        s.retries = 0  // a retry would hide a failure and distort the timing
        let t0 = now()
        var lastPush: Double?, lastPull: Double?
        let report = try await s.run { p in
            switch p.phase {
            case .push: lastPush = now()
            case .pull: lastPull = now()
            }
        }
        let t1 = now()
        let pushEnd = lastPush ?? t0
        return TimedSync(report: report, pushS: pushEnd - t0, pullS: (lastPull ?? pushEnd) - pushEnd, totalS: t1 - t0)
    }
}

/// One repeat: a fresh server and two fresh clients in `dir`.
struct SyncRun {
    let w: Workload
    let dir: URL
    let serverPath: String
    var m = Metrics()
    /// Every connection opened, shut down at the end of the repeat (also after an error).
    var connections: [ServerConnection] = []

    mutating func run() async throws {
        let clock: @Sendable () -> UInt64 = { fixedClockMillis }
        let data = dir.appendingPathComponent("server").path

        // The server: bootstrap the centre user, then serve on a free loopback port.
        let (_, bootstrapS) = try timed {
            try ServerProcess.bootstrap(executable: serverPath, data: data, user: syncUser, password: syncPassword)
        }
        let (server, startS) = try timed { try ServerProcess(executable: serverPath, data: data) }
        defer { server.stop() }
        progress(String(format: "  server up at %@ (bootstrap %.2f s, start %.2f s)", server.url, bootstrapS, startS))
        m.set("server_bootstrap_s_untimed", bootstrapS)
        m.set("server_start_s_untimed", startS)

        do {
            try await clients(server, clock)
        } catch {
            for c in connections { await c.shutdown() }
            progress("server log tail:\n" + server.logTail)
            throw error
        }
        for c in connections { await c.shutdown() }
        m.set("server_peak_rss_mib", server.peakRSSMiB())
        server.stop()
    }

    private mutating func clients(_ server: ServerProcess, _ clock: @escaping @Sendable () -> UInt64) async throws {
        let engine = EngineRun(workload: w, dir: dir, wallClock: false)  // for its state checks and `put`
        let nf = benchFields.count
        let initialFields = w.keys.count * nf
        let changes = w.phaseB[0]

        // Client A signs in, then writes the 10,000 × 12 rows in one local transaction (untimed).
        let (a, loginAS) = try await timedAsync {
            try await SyncClientSide.create(path: dir.appendingPathComponent("a.sqlite").path, id: 31,
                                            url: server.url, clock: clock)
        }
        connections.append(a.connection)
        m.set("login_s_untimed", loginAS)
        let (_, loadS) = try timed {
            try a.replica.write { tx in
                for (r, key) in w.keys.enumerated() {
                    var values = [String: FieldValue](minimumCapacity: nf)
                    for (f, v) in w.initial[r].enumerated() { values[benchFields[f]] = v }
                    try tx.put(table: benchTable, key: key, values)
                }
            }
        }
        m.set("a_load_s_untimed", loadS)

        // 1. A pushes everything.
        progress("  A pushes the initial state (\(w.keys.count) rows × \(nf) fields)")
        var before = server.pushCount
        let first = try await a.sync()
        let initialLogs = try server.pushLogs(from: before, count: first.report.pushedChunks)
        try check(first.report.pushedFields == initialFields, "A pushed \(first.report.pushedFields) of \(initialFields) field states")
        let initialApplied = initialLogs.reduce(0) { $0 + $1.applied }
        try check(initialApplied == initialFields, "the server applied \(initialApplied) of \(initialFields) field states")
        let initialServerS = Double(initialLogs.reduce(0) { $0 + $1.ms }) / 1000
        record("push_initial", first, pushed: true)
        m.set("push_initial_server_applied", Double(initialApplied))
        m.set("push_initial_server_side_s", initialServerS)
        m.set("push_initial_fields_per_s", Double(initialApplied) / first.pushS)
        m.set("push_initial_server_side_fields_per_s", Double(initialApplied) / initialServerS)
        m.set("push_initial_bytes_per_field", Double(first.report.pushedBytes) / Double(initialFields))
        m.set("a_initial_pullback_s", first.pullS)
        m.set("a_initial_pullback_chunks", Double(first.report.pulledChunks))
        m.set("a_initial_sync_s", first.totalS)
        progress(String(format: "  push: %d chunks, %d B, %.2f s (server-side %.2f s); A's pull-back: %d empty chunks, %.2f s",
                        first.report.pushedChunks, first.report.pushedBytes, first.pushS, initialServerS,
                        first.report.pulledChunks, first.pullS))
        progress("  push chunks (field states/bytes): " + initialLogs.map { "\($0.applied)/\($0.bytes)" }.joined(separator: " "))

        // 2. A brand-new client B bootstraps from the server.
        let (b, loginBS) = try await timedAsync {
            try await SyncClientSide.create(path: dir.appendingPathComponent("b.sqlite").path, id: 32,
                                            url: server.url, clock: clock)
        }
        connections.append(b.connection)
        m.set("login_s_untimed", m["login_s_untimed"]! + loginBS)
        progress("  B (new) pulls the whole state")
        let boot = try await b.sync()
        try check(boot.report.pushedChunks == 0, "B pushed \(boot.report.pushedChunks) chunks")
        try check(boot.report.pulledApplied == initialFields, "B applied \(boot.report.pulledApplied) of \(initialFields) field states")
        record("pull_bootstrap", boot, pushed: false)
        m.set("pull_bootstrap_fields_per_s", Double(boot.report.pulledApplied) / boot.pullS)
        m.set("pull_bootstrap_bytes_per_field", Double(boot.report.pulledBytes) / Double(initialFields))
        m.set("b_bootstrap_sync_s", boot.totalS)
        try engine.assertState(b.replica, equals: w.initial, "bootstrap: B vs the initial rows")
        progress(String(format: "  pull: %d chunks, %d B, %.2f s", boot.report.pulledChunks, boot.report.pulledBytes, boot.pullS))

        // 3. Phase B: A applies the 20,000 field changes, one local transaction each (untimed), and syncs.
        progress("  A writes \(changes.count) field changes, one transaction each (untimed)")
        let (_, writeS) = try timed { for op in changes { try a.replica.write { tx in try engine.put(tx, op) } } }
        m.set("phase_b_write_s_untimed", writeS)
        progress("  A pushes the changes")
        before = server.pushCount
        let push = try await a.sync()
        let bLogs = try server.pushLogs(from: before, count: push.report.pushedChunks)
        let bApplied = bLogs.reduce(0) { $0 + $1.applied }
        try check(bApplied == push.report.pushedFields, "the server applied \(bApplied) of \(push.report.pushedFields) field states")
        let bServerS = Double(bLogs.reduce(0) { $0 + $1.ms }) / 1000
        let n = Double(changes.count)
        record("push_b", push, pushed: true)
        m.set("push_b_updates", n)
        m.set("push_b_server_applied", Double(bApplied))
        m.set("push_b_server_side_s", bServerS)
        m.set("push_b_server_changes_per_s", Double(bApplied) / push.pushS)
        m.set("push_b_server_side_changes_per_s", Double(bApplied) / bServerS)
        m.set("push_b_updates_per_s", n / push.pushS)
        m.set("push_b_bytes_per_update", Double(push.report.pushedBytes) / n)
        m.set("push_b_bytes_per_field_state", Double(push.report.pushedBytes) / Double(push.report.pushedFields))
        m.set("a_b_pullback_s", push.pullS)
        m.set("a_b_pullback_chunks", Double(push.report.pulledChunks))
        m.set("a_b_sync_s", push.totalS)
        progress(String(format: "  push: %d chunks, %d B, %d field states, %.3f s (server-side %.3f s; per chunk: %@)",
                        push.report.pushedChunks, push.report.pushedBytes, push.report.pushedFields, push.pushS, bServerS,
                        bLogs.map { "\($0.applied) in \($0.ms) ms" }.joined(separator: ", ")))

        progress("  B pulls the changes")
        let pull = try await b.sync()
        try check(pull.report.pushedChunks == 0, "B pushed \(pull.report.pushedChunks) chunks")
        try check(pull.report.pulledApplied == bApplied, "B applied \(pull.report.pulledApplied) of \(bApplied) field states")
        record("pull_b", pull, pushed: false)
        m.set("pull_b_updates_per_s", n / pull.pullS)
        m.set("pull_b_bytes_per_update", Double(pull.report.pulledBytes) / n)
        m.set("pull_b_bytes_per_field_state", Double(pull.report.pulledBytes) / Double(pull.report.pulledApplied))
        m.set("b_b_sync_s", pull.totalS)
        progress(String(format: "  pull: %d chunks, %d B, %.3f s", pull.report.pulledChunks, pull.report.pulledBytes, pull.pullS))

        // All pushes: fields the server applied / push wall time.
        m.set("server_changes_per_s_all_pushes", Double(initialApplied + bApplied) / (first.pushS + push.pushS))
        m.set("server_side_changes_per_s_all_pushes", Double(initialApplied + bApplied) / (initialServerS + bServerS))

        // Convergence: A holds the oracle; B's whole replicated state equals A's.
        var oracle = w.initial
        for op in changes { oracle[Int(op.record)][Int(op.field)] = op.value }
        try engine.assertState(a.replica, equals: oracle, "phase B: A vs the oracle")
        let (sa, sb) = (try a.replica.snapshot(), try b.replica.snapshot())
        if sa != sb {
            let key = sa.rows.keys.sorted().first { sa.rows[$0] != sb.rows[$0] }
                ?? sb.rows.keys.sorted().first { sa.rows[$0] == nil }
            throw CheckFailure("convergence: B's snapshot differs from A's (\(sa.rows.count) vs \(sb.rows.count) rows, "
                               + "\(sa.conflicts.count) vs \(sb.conflicts.count) open conflicts; first differing row: \(key ?? "none"))")
        }
        m.set("converged_rows", Double(sa.rows.count))
        m.set("open_conflicts", Double(sa.conflicts.count))
        progress("  converged: B's snapshot equals A's (\(sa.rows.count) rows)")

        // 4. The account store under load, from A's device: sign-ins (bcrypt included) and token refreshes (the
        //    store alone), idle, then each while a new client pulls the whole state (the server's blocking work).
        progress("  sign-ins and refreshes: idle, then while new clients bootstrap")
        let (connection, replicaID, signer) = (a.connection, a.replica.id, a.replica.signer)
        let refreshToken = TokenBox(a.tokens.refreshToken)
        let signIn: @Sendable () async throws -> Void = {
            refreshToken.value = try await connection.login(user: syncUser, password: syncPassword, replica: replicaID,
                                                            deviceName: "bench-31", signer: signer).refreshToken
        }
        let refresh: @Sendable () async throws -> Void = {
            refreshToken.value = try await connection.refresh(refreshToken.value).refreshToken
        }
        for (name, call, idleCount, id) in [("sign_in", signIn, 3, UInt64(33)), ("refresh", refresh, 20, UInt64(34))] {
            var idle: [Double] = []
            for _ in 0..<idleCount { idle.append(try await timedAsync { try await call() }.1) }
            let c = try await SyncClientSide.create(path: dir.appendingPathComponent("c\(id).sqlite").path, id: id,
                                                    url: server.url, clock: clock)
            connections.append(c.connection)
            let pulled = DoneFlag()
            let pulling = Task {
                defer { pulled.set() }
                return try await c.sync()
            }
            var busy: [Double] = []
            while !pulled.isSet || busy.isEmpty { busy.append(try await timedAsync { try await call() }.1) }
            let pull = try await pulling.value
            try check(pull.report.pulledApplied == initialFields,
                      "the new client applied \(pull.report.pulledApplied) of \(initialFields) field states")
            m.set(name + "_idle_s", median(idle))
            m.set(name + "_busy_s", median(busy))
            m.set(name + "_busy_max_s", busy.max() ?? 0)
            m.set(name + "_busy_count", Double(busy.count))
            progress(String(format: "  %@: idle %.4f s; during a %.2f s bootstrap, %d calls, median %.4f s, max %.4f s",
                            name, median(idle), pull.pullS, busy.count, median(busy), busy.max() ?? 0))
        }

        // The raw SQLite baseline, same run: load the 10,000 rows, upsert the same 20,000 changes; then
        // the engine bench's baseline (the 100,000 Phase C upserts) for reference.
        progress("  raw SQLite baseline")
        let raw = try runRawSQLite(path: dir.appendingPathComponent("raw_b.sqlite").path, workload: w, ops: changes,
                                   oracle: oracle)
        m.set("raw_sqlite_load_s", raw.loadSeconds)
        m.set("raw_sqlite_load_fields_per_s", Double(initialFields) / raw.loadSeconds)
        m.set("raw_sqlite_upsert_s", raw.upsertSeconds)
        m.set("raw_sqlite_upserts_per_s", raw.upsertsPerSecond)
        var oracleC = w.initial
        for op in w.phaseC { oracleC[Int(op.record)][Int(op.field)] = op.value }
        let rawC = try runRawSQLite(path: dir.appendingPathComponent("raw_c.sqlite").path, workload: w, ops: w.phaseC,
                                    oracle: oracleC)
        m.set("raw_sqlite_phase_c_upserts_per_s", rawC.upsertsPerSecond)
    }

    /// The figures every timed sync has.
    private mutating func record(_ prefix: String, _ s: TimedSync, pushed: Bool) {
        let r = s.report
        m.set(prefix + "_s", pushed ? s.pushS : s.pullS)
        m.set(prefix + "_bytes", Double(pushed ? r.pushedBytes : r.pulledBytes))
        m.set(prefix + "_chunks", Double(pushed ? r.pushedChunks : r.pulledChunks))
        m.set(prefix + "_fields", Double(pushed ? r.pushedFields : r.pulledApplied))
        m.set(prefix + "_retries", Double(r.retries))
    }
}

func timedAsync<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let t0 = now()
    let r = try await body()
    return (r, now() - t0)
}

/// Ratios of one repeat (also recomputed from the medians for the headline).
func addSyncRatios(_ m: inout Metrics) {
    m.set("server_apply_vs_raw", m["push_b_server_changes_per_s"]! / m["raw_sqlite_upserts_per_s"]!)
    m.set("server_side_apply_vs_raw", m["push_b_server_side_changes_per_s"]! / m["raw_sqlite_upserts_per_s"]!)
    m.set("initial_push_vs_raw_load", m["push_initial_fields_per_s"]! / m["raw_sqlite_load_fields_per_s"]!)
}

func runSync(_ o: Options) async throws {
    let t0 = now()
    let serverPath = o.server ?? defaultServerPath()
    guard FileManager.default.isExecutableFile(atPath: serverPath) else {
        throw CheckFailure("no daiban-server executable at \(serverPath) (build it, or pass --server PATH)")
    }
    let workload: Workload
    if let dir = o.workload {
        progress("reading workload from \(dir)")
        workload = try loadWorkload(dir: dir)
    } else {
        progress("generating workload (seeded PRNG)")
        workload = generateWorkload()
    }
    progress("workload: \(workload.keys.count) records; phase B: replica 0's \(workload.phaseB[0].count) updates (\(String(format: "%.1f", now() - t0)) s)")
    progress("server: \(serverPath)")

    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("daiban-bench-sync-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }

    var runs: [Metrics] = []
    for rep in 1...o.repeats {
        let dir = root.appendingPathComponent("run\(rep)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        progress("run \(rep)/\(o.repeats)")
        let tr = now()
        var run = SyncRun(w: workload, dir: dir, serverPath: serverPath)
        try await run.run()
        var metrics = run.m
        addSyncRatios(&metrics)
        if o.breakdown && rep == o.repeats {
            progress("run \(rep)/\(o.repeats): breakdown (in-process replay without HTTP, not part of the medians)")
            for (k, v) in try syncBreakdown(w: workload, dir: dir).items { metrics.set(k, v) }
        }
        metrics.set("repeat_wall_s", now() - tr)
        try FileManager.default.removeItem(at: dir)
        progress(String(format: "run %d done (%.1f s): initial push %.2f s, bootstrap pull %.2f s, phase B push %.3f s, pull %.3f s; server %.0f changes/s, raw %.0f upserts/s, ratio %.3f",
                        rep, metrics["repeat_wall_s"]!, metrics["push_initial_s"]!, metrics["pull_bootstrap_s"]!,
                        metrics["push_b_s"]!, metrics["pull_b_s"]!, metrics["push_b_server_changes_per_s"]!,
                        metrics["raw_sqlite_upserts_per_s"]!, metrics["server_apply_vs_raw"]!))
        runs.append(metrics)
    }

    var s = summarize(runs)
    s.set("initial_push_vs_raw_load", s["push_initial_fields_per_s"]! / s["raw_sqlite_load_fields_per_s"]!)
    let serverRate = s["push_b_server_changes_per_s"]!
    let serverSide = s["push_b_server_side_changes_per_s"]!
    let raw = s["raw_sqlite_upserts_per_s"]!
    let headline: [(String, Double)] = [
        ("push_initial_s", s["push_initial_s"]!),
        ("push_initial_bytes", s["push_initial_bytes"]!),
        ("pull_bootstrap_s", s["pull_bootstrap_s"]!),
        ("pull_bootstrap_bytes", s["pull_bootstrap_bytes"]!),
        ("push_b_s", s["push_b_s"]!),
        ("pull_b_s", s["pull_b_s"]!),
        ("push_b_bytes_per_change", s["push_b_bytes_per_update"]!),
        ("pull_b_bytes_per_change", s["pull_b_bytes_per_update"]!),
        ("server_changes_per_s", serverRate),
        ("server_side_changes_per_s", serverSide),
        ("server_changes_per_s_all_pushes", s["server_changes_per_s_all_pushes"]!),
        ("raw_sqlite_upserts_per_s", raw),
        ("server_apply_vs_raw", serverRate / raw),
        ("server_side_apply_vs_raw", serverSide / raw),
        ("peak_rss_mib", peaks.total()),
    ]
    let perRepeatKeys = ["push_initial_s", "pull_bootstrap_s", "push_b_s", "pull_b_s", "push_b_server_side_s",
                         "push_b_server_changes_per_s", "push_b_server_side_changes_per_s", "raw_sqlite_upserts_per_s",
                         "server_apply_vs_raw", "server_side_apply_vs_raw", "push_initial_bytes", "pull_bootstrap_bytes",
                         "push_b_bytes", "pull_b_bytes", "repeat_wall_s"]
    if o.json {
        printReportJSON(headline: headline, repeats: o.repeats, workload: workload, clock: "fixed", extra: [],
                        perRepeat: perRepeatKeys, runs: runs, summary: s,
                        omit: ["server_apply_vs_raw", "server_side_apply_vs_raw"])
    } else {
        printSyncTable(summary: s, headline: headline, workload: workload, repeats: o.repeats)
    }
    progress(String(format: "total %.1f s", now() - t0))
}

func printSyncTable(summary s: Metrics, headline: [(String, Double)], workload: Workload, repeats: Int) {
    let table = ReportTable(summary: s)
    func row(_ label: String, _ key: String, _ unit: String = "") { table.row(label, key, unit) }
    print("daiban-bench sync — \(workload.source); medians of \(repeats); loopback HTTP to a daiban-server process; SQLite \(sqliteVersion); \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print("Initial push — A sends 10,000 rows × 12 fields")
    row("push (A's sync until the last chunk's ack)", "push_initial_s", "s")
    row("  server-side (sum of handler ms)", "push_initial_server_side_s", "s")
    row("chunks", "push_initial_chunks")
    row("bundle bytes", "push_initial_bytes", "B")
    row("bundle bytes per field", "push_initial_bytes_per_field", "B")
    row("field states applied by the server", "push_initial_server_applied")
    row("fields/s (end to end)", "push_initial_fields_per_s")
    row("fields/s (server-side)", "push_initial_server_side_fields_per_s")
    row("A's pull-back afterwards (nothing for A)", "a_initial_pullback_s", "s")
    row("  empty chunks", "a_initial_pullback_chunks")
    row("A's whole sync (push, pull-back, directory)", "a_initial_sync_s", "s")
    print("Bootstrap — new client B pulls the whole state")
    row("pull", "pull_bootstrap_s", "s")
    row("chunks", "pull_bootstrap_chunks")
    row("bundle bytes", "pull_bootstrap_bytes", "B")
    row("bundle bytes per field", "pull_bootstrap_bytes_per_field", "B")
    row("fields/s", "pull_bootstrap_fields_per_s")
    row("B's whole sync", "b_bootstrap_sync_s", "s")
    print("Phase B — A makes 20,000 field changes, pushes; B pulls")
    row("local writes (untimed, one transaction each)", "phase_b_write_s_untimed", "s")
    row("push", "push_b_s", "s")
    row("  server-side (sum of handler ms)", "push_b_server_side_s", "s")
    row("chunks", "push_b_chunks")
    row("field states pushed (latest state only)", "push_b_fields")
    row("bundle bytes pushed", "push_b_bytes", "B")
    row("pushed bytes per field change", "push_b_bytes_per_update", "B")
    row("pushed bytes per field state", "push_b_bytes_per_field_state", "B")
    row("server changes/s (end to end)", "push_b_server_changes_per_s")
    row("server changes/s (server-side)", "push_b_server_side_changes_per_s")
    row("A's pull-back afterwards", "a_b_pullback_s", "s")
    row("pull", "pull_b_s", "s")
    row("chunks", "pull_b_chunks")
    row("bundle bytes pulled", "pull_b_bytes", "B")
    row("pulled bytes per field change", "pull_b_bytes_per_update", "B")
    row("field changes/s delivered to B", "pull_b_updates_per_s")
    print("Raw SQLite (same rows, C API, WAL, synchronous=NORMAL)")
    row("load 10,000 rows", "raw_sqlite_load_s", "s")
    row("  fields/s", "raw_sqlite_load_fields_per_s")
    row("initial push fields/s ÷ raw load fields/s", "initial_push_vs_raw_load")
    row("upsert the same 20,000 changes", "raw_sqlite_upsert_s", "s")
    row("upserts/s", "raw_sqlite_upserts_per_s")
    row("Phase C upserts/s (engine bench's baseline)", "raw_sqlite_phase_c_upserts_per_s")
    print("Convergence")
    row("rows in A's and B's equal snapshots", "converged_rows")
    row("repeat wall time (incl. untimed steps)", "repeat_wall_s", "s")
    row("server process peak RSS", "server_peak_rss_mib", "MiB")
    row("two logins (bcrypt cost 12, untimed)", "login_s_untimed", "s")
    print("The account store under load: calls from A's device, idle and while a new client pulls the whole state")
    for (call, key, idle) in [("sign-in (bcrypt cost 12)", "sign_in", 3), ("token refresh", "refresh", 20)] {
        row("\(call), idle (median of \(idle))", key + "_idle_s", "s")
        row("  while a new client pulls (median)", key + "_busy_s", "s")
        row("  slowest", key + "_busy_max_s", "s")
        row("  calls during the pull", key + "_busy_count")
    }
    table.finish(breakdown: "Breakdown (last run only, in-process replay without HTTP, seconds unless named)",
                 headline: headline)
}

// MARK: --breakdown

/// Replays the sync's data path in this process, without HTTP or a server process, to split the timed syncs:
/// client A's chunked export (what `Synchronizer` pushes), the server's import of those chunks with the
/// audit attribution it sets and without it, the server's chunked export for B, and B's import. Same data,
/// same chunk size (256 KiB), same replica ids and fixed clock for the clients; the server-side replica uses
/// `DaibanSchema.schema` and the wall clock, as `daiban-server` does. Not part of the medians.
func syncBreakdown(w: Workload, dir: URL) throws -> Metrics {
    var m = Metrics()
    let clock: @Sendable () -> UInt64 = { fixedClockMillis }
    let engine = EngineRun(workload: w, dir: dir, wallClock: false)
    func path(_ name: String) -> String { dir.appendingPathComponent("breakdown_\(name).sqlite").path }

    /// Every non-empty chunk after `cursor`, as `Synchronizer.push` cuts them (a fresh exporter per sync).
    func chunks(_ r: ReplicaDatabase, after cursor: UInt64, filter: WriterFilter) throws -> (chunks: [[UInt8]], next: UInt64) {
        var exporter = ChunkedExporter(targetBytes: 256 << 10)
        var out: [[UInt8]] = []
        var cursor = cursor
        while true {
            let chunk = try exporter.next(from: r, after: cursor, filter: filter)
            if !chunk.changeSet.rows.isEmpty { out.append(chunk.bytes) }
            cursor = chunk.next
            if !chunk.more { return (out, cursor) }
        }
    }
    func importAll(_ r: ReplicaDatabase, _ chunks: [[UInt8]], _ options: ImportOptions) throws -> (applied: Int, seconds: Double) {
        var applied = 0
        let (_, s) = try timed { for c in chunks { applied += try r.importBundle(c, options: options).applied } }
        return (applied, s)
    }

    // Client A: the same rows and changes.
    let a = try ReplicaDatabase.create(at: path("a"), schema: syncClientSchema, id: replicaID(31), author: syncUser,
                                       now: clock)
    try a.write { tx in
        for (r, key) in w.keys.enumerated() {
            var values = [String: FieldValue](minimumCapacity: benchFields.count)
            for (f, v) in w.initial[r].enumerated() { values[benchFields[f]] = v }
            try tx.put(table: benchTable, key: key, values)
        }
    }
    let (initial, initialExportS) = try timed { try chunks(a, after: 0, filter: .all) }
    for op in w.phaseB[0] { try a.write { tx in try engine.put(tx, op) } }
    let (changes, bExportS) = try timed { try chunks(a, after: initial.next, filter: .all) }

    // The server's import, with the attribution `daiban-server` sets (one audit row per new version) and without.
    let fields = w.keys.count * benchFields.count
    let b = try ReplicaDatabase.create(at: path("b"), schema: syncClientSchema, id: replicaID(32), author: syncUser,
                                       now: clock)
    for attributed in [true, false] {
        let name = attributed ? "audited" : "plain"
        let s = try ReplicaDatabase.create(at: path("server_" + name), schema: DaibanSchema.schema, author: "server")
        let options = ImportOptions(attribution: attributed ? .init(user: syncUser, device: "1") : nil)
        let first = try importAll(s, initial.chunks, options)
        try check(first.applied == fields, "breakdown: the \(name) import applied \(first.applied) of \(fields)")
        m.set("breakdown_initial_import_\(name)_s", first.seconds)
        var cursor: UInt64 = 0
        if attributed {
            // B bootstraps from this server: its chunked export (leaving out B's own writes), B's import.
            let (boot, exportS) = try timed { try chunks(s, after: 0, filter: .excluding(b.id)) }
            let imported = try importAll(b, boot.chunks, ImportOptions())
            try check(imported.applied == fields, "breakdown: B's bootstrap applied \(imported.applied) of \(fields)")
            m.set("breakdown_bootstrap_server_export_s", exportS)
            m.set("breakdown_bootstrap_client_import_s", imported.seconds)
            cursor = boot.next
        }
        let second = try importAll(s, changes.chunks, options)
        m.set("breakdown_push_b_import_\(name)_s", second.seconds)
        m.set("breakdown_push_b_import_\(name)_changes_per_s", Double(second.applied) / second.seconds)
        if attributed {
            let (pulled, exportS) = try timed { try chunks(s, after: cursor, filter: .excluding(b.id)) }
            let imported = try importAll(b, pulled.chunks, ImportOptions())
            try check(imported.applied == second.applied, "breakdown: B applied \(imported.applied) of \(second.applied)")
            m.set("breakdown_pull_b_server_export_s", exportS)
            m.set("breakdown_pull_b_client_import_s", imported.seconds)
        }
    }
    m.set("breakdown_initial_client_export_s", initialExportS)
    m.set("breakdown_push_b_client_export_s", bExportS)
    m.set("breakdown_push_b_chunks", Double(changes.chunks.count))
    try check(try a.snapshot() == b.snapshot(), "breakdown: B's snapshot differs from A's")
    return m
}
