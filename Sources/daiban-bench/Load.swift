import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import ReplicaStore
import SyncClient
import SyncCore
import SyncProtocol
import SyncServer
import Synchronization

let loadUsage = """
    usage: daiban-bench load [--agents N] [--instances K] [--database sqlite|postgres] [--minutes M]
                             [--interval A-B] [--short] [--plant] [--json] [--seed S] [--server PATH] [--dir D]

      A county at work against a real daiban-server: N agents (default 500), each with its own replica, device
      and account, type case logs, plan-item steps and half-month progress reports offline and sync at random
      intervals; one case in five is shared with a second agent, who steps the same items (concurrent edits);
      township offices and the centre sync and write too. Reports push and pull latency (p50/p95/p99), field
      changes the server applied per second, errors (a failed sync or a refused version), the server's RSS, and
      at the end whether every replica holds exactly what the server holds for its scope.

      --agents N        simulated agents (default 500; --short: 40)
      --instances K     server instances (default 1; more need --database postgres: one SQLite data folder serves
                        one instance); each device switches instance at every sync, as behind a load balancer
      --database D      sqlite (default), or postgres or postgres://USER@HOST:PORT/DB: the instances share a new
                        database made on that PostgreSQL server for the run and dropped after it (postgres: the
                        server of $DAIBAN_TEST_POSTGRES, which scripts/with-postgres.sh sets)
      --minutes M       length of the timed phase (default 5; --short: 0.5)
      --interval A-B    seconds an agent works offline between two syncs, drawn uniformly (default 5-30;
                        --short: 0.3-2)
      --short           the CI mode: a small county, half a minute
      --plant           the planted defect: the centre writes to g0002's case and g0002 skips its final syncs;
                        succeeds only if the convergence check finds g0002 behind
      --json            one JSON object on stdout
      --seed S          the random choices (default 1)
      --server PATH     the daiban-server executable (default: next to this executable)
      --dir D           working folder, new or empty (default: a temporary one, removed when the run held)
    The accounts are made with bcrypt cost 4 (sign-ins are not what this measures: daiban-bench sync times them).
    Exit code 0 when the run held (0 errors, converged), 1 when it did not, 2 for a bad option.
    """

struct LoadOptions {
    var agents = 500
    var instances = 1
    var database = "sqlite"
    var minutes = 5.0
    var interval: ClosedRange<Double> = 5...30
    var short = false
    var plant = false
    var json = false
    var seed: UInt64 = 1
    var server: String?
    var dir: String?

    static func parse(_ args: [String]) -> LoadOptions? {
        guard args.first == "load" else { return nil }
        var o = LoadOptions()
        var agents: Int?, minutes: Double?, interval: ClosedRange<Double>?
        var i = 1
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
            case "--agents": guard let n = value().flatMap(Int.init), n >= 2 else { return nil }; agents = n
            case "--instances": guard let n = value().flatMap(Int.init), n >= 1 else { return nil }; o.instances = n
            case "--database":
                guard let d = value(), ["sqlite", "postgres"].contains(d) || d.hasPrefix("postgres://") else { return nil }
                o.database = d
            case "--minutes": guard let m = value().flatMap(Double.init), m > 0 else { return nil }; minutes = m
            case "--interval":
                guard let parts = value()?.split(separator: "-").compactMap({ Double($0) }), parts.count == 2,
                      parts[0] >= 0, parts[1] >= parts[0] else { return nil }
                interval = parts[0]...parts[1]
            case "--seed": guard let n = value().flatMap(UInt64.init) else { return nil }; o.seed = n
            case "--server": guard let p = value() else { return nil }; o.server = p
            case "--dir": guard let d = value() else { return nil }; o.dir = d
            default: return nil
            }
        }
        o.agents = agents ?? (o.short ? 40 : 500)
        o.minutes = minutes ?? (o.short ? 0.5 : 5)
        o.interval = interval ?? (o.short ? 0.3...2 : 5...30)
        return o
    }
}

/// The password of every account of the load test.
private let loadPassword = "load-password-0123456789"
/// Township offices of the simulated county (accounts `t01`…, offices `OFF-01`…).
private let loadTownships = 5
/// Approval departments the plan items go to.
private let loadDepartments = 8
/// Cases per agent, and plan items per case.
private let casesPerAgent = 3
private let itemsPerCase = 4

/// One simulated device: a replica of the domain schema, signed in as its account, and the cases it works on.
private final class LoadDevice: @unchecked Sendable {
    let login: String
    let role: Role
    let replica: ReplicaDatabase
    /// One connection per server instance; each sync uses the next (a load balancer's round robin).
    let connections: [ServerConnection]
    private var syncs = 0
    var tokens: SessionTokens
    /// Cases this device writes to (its own and those shared with it).
    var cases: [String] = []
    /// What the last `work` failed on other than a refused step (a storage error: counted as an error).
    var failures: [String] = []
    let workflow: Workflow

    init(login: String, role: Role, replica: ReplicaDatabase, connections: [ServerConnection], first: Int,
         tokens: SessionTokens) {
        self.login = login
        self.role = role
        self.replica = replica
        self.connections = connections
        syncs = first
        self.tokens = tokens
        workflow = Workflow(replica: replica)
    }

    /// One whole sync as `daiban sync` runs it (scope exits remove the rows of a case that left).
    func sync() async throws -> SyncReport {
        syncs += 1
        let s = Synchronizer(replica: replica, connection: connections[syncs % connections.count], tokens: tokens,
                             saveTokens: { [weak self] t in self?.tokens = t })
        s.retries = 2
        s.baseDelay = 0.2
        s.rowsOfExit = ReadScope.rowsOfExit
        return try await s.run()
    }

    /// A few minutes of offline work: `n` actions, each a work log, the next step of a plan item, or a
    /// half-month progress report. Returns the steps the workflow refused (a concurrent step got there first:
    /// the item is no longer where this device last saw it), which then become logs.
    func work(_ n: Int, dice: inout Chance) -> (actions: Int, refusals: Int) {
        failures = []
        guard !cases.isEmpty else { return (0, 0) }
        var refusals = 0, done = 0
        for _ in 0..<n {
            let c = cases[dice.int(0...(cases.count - 1))]
            let roll = dice.int(0...99)
            do {
                if roll < 35, role == .agent {
                    if try stepItem(of: c, dice: &dice) { done += 1; continue }
                } else if roll < 50, role == .agent {
                    _ = try workflow.reportProgress(caseID: c, summary: dice.chinese(dice.int(10...40)))
                    done += 1
                    continue
                }
            } catch is WorkflowError {
                refusals += 1
            } catch {
                failures.append("\(login): \(error)")
            }
            do {
                _ = try workflow.addLog(caseID: c, kind: LogKind.allCases[dice.int(0...(LogKind.allCases.count - 1))].rawValue,
                                        content: dice.chinese(dice.int(20...80)))
                done += 1
            } catch is WorkflowError {
                refusals += 1
            } catch {
                failures.append("\(login): \(error)")
            }
        }
        return (done, refusals)
    }

    /// The next step of a random open item of case `c`; false when every item of it is decided.
    private func stepItem(of c: String, dice: inout Chance) throws -> Bool {
        let item = "\(c).\(dice.int(1...itemsPerCase))"
        let status = try replica.get(table: "plan_item", key: item)?.fields.first { $0.name == "status" }?.value.displayText
        var input = ItemStepInput()
        let step: ItemStep
        switch ItemStatus(rawValue: status ?? "") ?? .planned {
        case .planned: step = .dispatch
        case .dispatched: step = .prepare
        case .preparing: step = .submit
        case .submitted: step = .accept
        case .accepted: step = .review
        case .underReview:
            step = .decide
            input.result = "APPROVED"
        default: return false
        }
        _ = try workflow.itemStep(step, itemID: item, input)
        return true
    }
}

/// What the timed phase counted, shared by the devices' tasks.
private final class LoadTally: Sendable {
    struct State {
        var push: [Double] = []
        var pull: [Double] = []
        var syncs = 0
        var actions = 0
        var workflowRefusals = 0
        var pushedFields = 0
        var errors: [String] = []
        var errorCount = 0
    }
    let state = Mutex(State())

    func record(_ r: SyncReport) {
        state.withLock { s in
            s.syncs += 1
            s.push.append(r.pushSeconds)
            s.pull.append(r.pullSeconds)
            s.pushedFields += r.pushedFields
        }
    }

    /// A version the server refused is an error here: every device only does what its role may.
    func checkRefused(_ r: SyncReport, _ login: String) {
        if r.quarantined > 0 { error("\(login): \(r.quarantined) versions refused \(r.refused)") }
    }

    func error(_ message: String) {
        state.withLock { s in
            s.errorCount += 1
            if s.errors.count < 10 { s.errors.append(message) }
        }
    }
}

/// Runs `body` for every device, `width` at a time.
private func eachDevice(_ devices: [LoadDevice], width: Int = 8, _ body: @escaping @Sendable (LoadDevice) async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        var next = devices.makeIterator()
        for _ in 0..<width { if let d = next.next() { group.addTask { await body(d) } } }
        while await group.next() != nil { if let d = next.next() { group.addTask { await body(d) } } }
    }
}

/// The `p`-th percentile (0–100) of `xs`, nearest rank.
func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return 0 }
    let sorted = xs.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func runLoad(_ o: LoadOptions) async throws -> Int32 {
    if o.instances != 1 && o.database == "sqlite" {
        FileHandle.standardError.write(Data("""
            daiban-bench load: one SQLite data folder serves one instance (serve.lock); several instances share one \
            PostgreSQL database: add --database postgres.\n
            """.utf8))
        return 2
    }
    var scratch: PostgresScratch?
    if o.database != "sqlite" {
        let base = o.database == "postgres" ? ProcessInfo.processInfo.environment["DAIBAN_TEST_POSTGRES"] : o.database
        guard let base, !base.isEmpty else {
            FileHandle.standardError.write(Data("""
                daiban-bench load: --database postgres takes the PostgreSQL server from DAIBAN_TEST_POSTGRES \
                (scripts/with-postgres.sh starts a throwaway one and sets it); or pass --database postgres://USER@HOST:PORT/DB.\n
                """.utf8))
            return 2
        }
        scratch = try await PostgresScratch.create(on: base, name: "daiban_load_\(getpid())")
    }
    do {
        let code = try await runLoad(o, scratch: scratch)
        await scratch?.drop()
        return code
    } catch {
        await scratch?.drop()
        throw error
    }
}

private func runLoad(_ o: LoadOptions, scratch: PostgresScratch?) async throws -> Int32 {
    let shared = scratch.map { ["DAIBAN_DATABASE": $0.url] } ?? [:]
    let dir = o.dir.map { URL(fileURLWithPath: $0) }
        ?? FileManager.default.temporaryDirectory.appendingPathComponent("daiban-load-\(getpid())")
    if let existing = try? FileManager.default.contentsOfDirectory(atPath: dir.path), !existing.isEmpty {
        FileHandle.standardError.write(Data("daiban-bench load: \(dir.path) is not empty; --dir takes a new or empty folder\n".utf8))
        return 2
    }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    // The temporary folder goes when the run held; a failed run's folder (and a --dir) stays for inspection.
    var held = false
    defer {
        if o.dir == nil && held { try? FileManager.default.removeItem(at: dir) } else { progress("load: the run's files are in \(dir.path)") }
    }
    let serverPath = o.server ?? defaultServerPath()
    let data = dir.appendingPathComponent("server").path
    let agents = (1...o.agents).map { String(format: "g%04d", $0) }
    let townships = (1...loadTownships).map { String(format: "t%02d", $0) }

    progress("load: \(o.agents) agents, \(loadTownships) townships and the centre; accounts…")
    try ServerProcess.bootstrap(executable: serverPath, data: data, user: syncUser, password: syncPassword,
                                environment: shared)
    let accounts = if let scratch {
        AccountStore(database: try await PostgresAccountDatabase(url: scratch.url))
    } else {
        try AccountStore(path: data + "/accounts.sqlite")
    }
    var users: [String: User] = [:]
    for (i, login) in agents.enumerated() {
        users[login] = try await accounts.addUser(name: login, role: .agent, township: office(i), password: loadPassword,
                                                  cost: 4, now: Int64(Date().timeIntervalSince1970))
    }
    for (i, login) in townships.enumerated() {
        users[login] = try await accounts.addUser(name: login, role: .township, township: String(format: "OFF-%02d", i + 1),
                                                  password: loadPassword, cost: 4, now: Int64(Date().timeIntervalSince1970))
    }
    for u in try await accounts.users() where u.name == syncUser { users[u.name] = u }

    let servers = try (0..<o.instances).map { i in
        try ServerProcess(executable: serverPath, data: i == 0 ? data : data + "-\(i)", environment: shared)
    }
    defer { for s in servers { s.stop() } }
    var signIns = 0
    /// Signs a new device in; every 30 sign-ins the address's counters are cleared (all devices come from
    /// 127.0.0.1, which the limiter would otherwise pause, as an operator clears them for a training room).
    func device(_ login: String, role: Role) async throws -> LoadDevice {
        signIns += 1
        if signIns % 30 == 0 { _ = try await accounts.clearLoginCounters(user: nil, address: "127.0.0.1") }
        var replica = try ReplicaDatabase.create(at: dir.appendingPathComponent("\(login).sqlite").path,
                                                 schema: DaibanSchema.schema, author: login, now: wallMillis)
        replica.signer = DeviceKey()
        let connections = try servers.map { try ServerConnection(url: $0.url) }
        let password = login == syncUser ? syncPassword : loadPassword
        do {
            let first = signIns % connections.count
            let tokens = try await connections[first].login(user: login, password: password, replica: replica.id,
                                                            deviceName: login, signer: replica.signer)
            return LoadDevice(login: login, role: role, replica: replica, connections: connections, first: first, tokens: tokens)
        } catch {
            for c in connections { await c.shutdown() }
            throw error
        }
    }

    // The centre's roster and cases, pushed once (untimed).
    let centre = try await device(syncUser, role: .center)
    var devices: [LoadDevice] = [centre]
    let caseCount = try writeCounty(centre.replica, agents: agents)
    centre.cases = (1...o.agents).flatMap { a in (1...casesPerAgent).map { caseKey(a, $0) } }
    let roster = try await centre.sync()
    try check(roster.quarantined == 0, "the server refused \(roster.quarantined) versions of the centre's roster: \(roster.refused)")
    progress("load: \(caseCount) cases, \(caseCount * itemsPerCase) plan items on the server; signing in the devices…")
    for (i, login) in agents.enumerated() {
        let d = try await device(login, role: .agent)
        d.cases = (1...casesPerAgent).map { caseKey(i + 1, $0) }
        // The case its neighbour shares with it (see `writeCounty`).
        if i > 0, i % 5 == 0 { d.cases.append(caseKey(i, 1)) }
        devices.append(d)
    }
    for (i, login) in townships.enumerated() {
        let d = try await device(login, role: .township)
        d.cases = (1...o.agents).filter { office($0 - 1) == String(format: "OFF-%02d", i + 1) }
            .flatMap { a in (1...casesPerAgent).map { caseKey(a, $0) } }
        devices.append(d)
    }
    // Each device's first pull of its scope, eight at a time (a morning's sign-ins): timed apart.
    let tally = LoadTally()
    let first = Mutex<[Double]>([])
    await eachDevice(devices) { d in
        do {
            let r = try await d.sync()
            first.withLock { $0.append(r.seconds) }
            tally.checkRefused(r, d.login)
        } catch {
            tally.error("\(d.login) (first sync): \(error)")
        }
    }
    let firstSyncs = first.withLock { $0 }

    progress("load: \(devices.count) devices for \(o.minutes) min, syncing every \(o.interval.lowerBound)–\(o.interval.upperBound) s")
    let start = now(), end = start + o.minutes * 60
    let pushesBefore = servers.map(\.pushCount), pullsBefore = servers.map(\.allPullMillis.count)
    let serverCPUBefore = servers.map { $0.cpuSeconds() }, benchCPUBefore = processCPUSeconds()
    let sampler = Task { () -> [Double] in
        var peak = servers.map { _ in 0.0 }
        while now() < end {
            for (i, s) in servers.enumerated() { peak[i] = max(peak[i], s.residentMiB()) }
            try? await Task.sleep(nanoseconds: 1_000_000_000)
        }
        return peak
    }
    let seed = o.seed, interval = o.interval
    await withTaskGroup(of: Void.self) { group in
        for (i, d) in devices.enumerated() {
            group.addTask {
                var dice = Chance(seed &+ UInt64(i) &* 7919)
                // Devices do not start in step: the first pause is a random part of one interval.
                let wait = min(dice.double(0...interval.upperBound), end - now())
                if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                while now() < end {
                    let (actions, refusals) = d.work(dice.int(1...4), dice: &dice)
                    tally.state.withLock { $0.actions += actions; $0.workflowRefusals += refusals }
                    for f in d.failures { tally.error(f) }
                    do {
                        let r = try await d.sync()
                        tally.record(r)
                        tally.checkRefused(r, d.login)
                    } catch {
                        tally.error("\(d.login): \(error)")
                    }
                    // The pause ends at the end of the phase at the latest.
                    let pause = min(dice.double(interval), end - now())
                    if pause > 0 { try? await Task.sleep(nanoseconds: UInt64(pause * 1e9)) }
                }
            }
        }
    }
    let elapsed = now() - start
    let peakRSS = zip(await sampler.value, servers).map { max($0, $1.residentMiB()) }
    let pushLogs = servers.indices.flatMap { servers[$0].allPushLogs.dropFirst(pushesBefore[$0]) }
    let applied = pushLogs.reduce(0) { $0 + $1.applied }
    let serverPush = pushLogs.map { Double($0.ms) }
    let serverPull = servers.indices.flatMap { servers[$0].allPullMillis.dropFirst(pullsBefore[$0]).map(Double.init) }
    let serverCPU = servers.indices.map { servers[$0].cpuSeconds() - serverCPUBefore[$0] }.reduce(0, +) / max(elapsed, 0.001)
    let benchCPU = (processCPUSeconds() - benchCPUBefore) / max(elapsed, 0.001)

    // Convergence: every device pushes what is left, then every device pulls once more; the server's replica
    // is then compared with each device for that device's scope.
    progress("load: final syncs and the convergence check…")
    let behind = o.plant ? devices.first { $0.login == "g0002" } : nil
    if behind != nil { _ = try centre.workflow.addLog(caseID: caseKey(2, 1), kind: "SUPERVISE", content: "中心督办：请尽快推进。") }
    // Two rounds, each over every device before the next: the first pushes what is left, the second pulls it.
    for _ in 0..<2 {
        await eachDevice(devices.filter { $0 !== behind }) { d in
            do { tally.checkRefused(try await d.sync(), d.login) } catch { tally.error("\(d.login) (final): \(error)") }
        }
    }
    let serverErrors = (count: servers.reduce(0) { $0 + $1.errorLines.count }, last: servers.flatMap(\.errorLines.last))
    for s in servers { s.stop() }
    let copy = try copyServerReplica(data)
    // On PostgreSQL the first instance's copy is brought up to the database's log first.
    let serverReplica = if let scratch {
        try await DaibanServer.sharedReplicaCopy(data: (copy as NSString).deletingLastPathComponent, database: scratch.url)
    } else {
        try ReplicaDatabase.open(at: copy, schema: DaibanSchema.schema)
    }
    let serverRows = try allRows(serverReplica)
    let serverFacts = try allFacts(serverReplica, serverRows)
    var diverged: [String] = []
    var serverStates: [String: RowState] = [:]
    for d in devices {
        guard let u = users[d.login] else { diverged.append("\(d.login): no account"); continue }
        if let problem = try scopeDifference(server: serverReplica, rows: serverRows, facts: serverFacts,
                                                 states: &serverStates, device: d.replica, user: u) {
            diverged.append("\(d.login): \(problem)")
        }
    }
    let conflicts = try centre.replica.status().openConflicts

    for d in devices { for c in d.connections { await c.shutdown() } }
    let s = tally.state.withLock { $0 }
    var figures: [(String, Double)] = [
        ("agents", Double(o.agents)), ("devices", Double(devices.count)), ("instances", Double(o.instances)),
        ("first_sync_p50_ms", percentile(firstSyncs, 50) * 1000), ("first_sync_p99_ms", percentile(firstSyncs, 99) * 1000),
        ("minutes", elapsed / 60), ("syncs", Double(s.syncs)), ("actions", Double(s.actions)),
        ("workflow_refusals", Double(s.workflowRefusals)),
        ("push_p50_ms", percentile(s.push, 50) * 1000), ("push_p95_ms", percentile(s.push, 95) * 1000),
        ("push_p99_ms", percentile(s.push, 99) * 1000),
        ("pull_p50_ms", percentile(s.pull, 50) * 1000), ("pull_p95_ms", percentile(s.pull, 95) * 1000),
        ("pull_p99_ms", percentile(s.pull, 99) * 1000),
        ("server_push_p50_ms", percentile(serverPush, 50)), ("server_push_p99_ms", percentile(serverPush, 99)),
        ("server_pull_chunk_p50_ms", percentile(serverPull, 50)), ("server_pull_chunk_p99_ms", percentile(serverPull, 99)),
        ("server_cpu_cores", serverCPU), ("bench_cpu_cores", benchCPU),
        ("field_changes_pushed", Double(s.pushedFields)), ("field_changes_applied", Double(applied)),
        ("applied_per_s", Double(applied) / max(elapsed, 0.001)),
        ("errors", Double(s.errorCount)), ("server_error_lines", Double(serverErrors.count)),
        ("server_peak_rss_mib", peakRSS.max() ?? 0), ("open_conflicts", Double(conflicts)),
        ("replicas_diverged", Double(diverged.count)),
    ]
    figures.append(("syncs_per_s", Double(s.syncs) / max(elapsed, 0.001)))
    if servers.count > 1 {
        for (i, rss) in peakRSS.enumerated() { figures.append(("server_\(i + 1)_peak_rss_mib", rss)) }
    }
    let backend = scratch == nil ? "sqlite" : "postgres"
    if o.json {
        let body = figures.map { "\(jsonString($0.0)): \(jsonNumber($0.1))" }
            + ["\"database\": \(jsonString(backend))",
               "\"errors_seen\": [\(s.errors.map(jsonString).joined(separator: ", "))]",
               "\"diverged\": [\(diverged.prefix(10).map(jsonString).joined(separator: ", "))]"]
        print("{" + body.joined(separator: ", ") + "}")
    } else {
        let width = figures.map(\.0.count).max() ?? 0
        print("daiban-bench load (\(backend), \(o.instances) instance\(o.instances == 1 ? "" : "s"))")
        for (k, v) in figures { print(k.padding(toLength: width + 2, withPad: " ", startingAt: 0) + human(v)) }
    }
    for e in s.errors { progress("  error: \(e)") }
    for e in serverErrors.last { progress("  server logged: \(e)") }
    for e in diverged.prefix(10) { progress("  diverged: \(e)") }
    held = s.errorCount == 0 && serverErrors.count == 0 && diverged.isEmpty
    if o.plant {
        // Caught: g0002 is found behind, and nothing else failed.
        let caught = diverged.count == 1 && diverged[0].hasPrefix("g0002:") && s.errorCount == 0 && serverErrors.count == 0
        held = caught
        progress(caught ? "load: the planted defect was detected" : "load: planted defect NOT detected")
        return caught ? 0 : 1
    }
    progress(held ? "load: held (0 errors, every replica equals the server for its scope)" : "load: FAILED")
    return held ? 0 : 1
}

/// Agent `i` (0-based)'s township office.
private func office(_ i: Int) -> String { String(format: "OFF-%02d", i % loadTownships + 1) }

/// Agent `a` (1-based)'s case `k`.
private func caseKey(_ a: Int, _ k: Int) -> String { String(format: "C%04d-%d", a, k) }

/// The centre's roster and cases: offices, townships, departments, a person per account, and per agent
/// `casesPerAgent` executing cases of `itemsPerCase` planned items each. Every fifth agent's first case also
/// names the next agent in its team, so two devices step the same items. Returns the number of cases.
private func writeCounty(_ r: ReplicaDatabase, agents: [String]) throws -> Int {
    var dice = Chance(42)
    var cases = 0
    try r.write { tx in
        try tx.put(table: "office", key: "OFF-C", ["name": .text("县代办服务中心"), "level": .text("COUNTY_CENTER")])
        try tx.put(table: "person", key: "P-ADMIN", ["name": .text("中心管理员"), "login": .text(syncUser),
                                                     "roles": .text("OFFICE_ADMIN"), "office_id": .text("OFF-C")])
        for t in 1...loadTownships {
            let off = String(format: "OFF-%02d", t)
            try tx.put(table: "office", key: off, ["name": .text("乡镇代办站\(t)"), "level": .text("TOWNSHIP"), "parent_id": .text("OFF-C")])
            try tx.put(table: "township", key: off, ["name": .text(dice.chinese(2) + "镇"), "office_id": .text(off)])
            try tx.put(table: "person", key: String(format: "P-T%02d", t), [
                "name": .text(dice.chinese(3)), "login": .text(String(format: "t%02d", t)), "roles": .text("OFFICE_ADMIN"),
                "office_id": .text(off),
            ])
        }
        for d in 1...loadDepartments {
            try tx.put(table: "department", key: String(format: "D-%02d", d), ["name": .text(dice.chinese(4) + "局")])
        }
        for (i, login) in agents.enumerated() {
            let a = i + 1
            try tx.put(table: "person", key: String(format: "P%04d", a), [
                "name": .text(dice.chinese(3)), "login": .text(login), "roles": .text("AGENT"), "office_id": .text(office(i)),
            ])
            for k in 1...casesPerAgent {
                let c = caseKey(a, k)
                let e = "E" + c, p = "PR" + c
                try tx.put(table: "enterprise", key: e, ["name": .text(dice.chinese(6) + "有限公司"),
                                                         "uscc": .text(String(format: "91330000%010d", a * 10 + k))])
                try tx.put(table: "project", key: p, ["name": .text(dice.chinese(8) + "项目"), "enterprise_id": .text(e),
                                                      "township_id": .text(office(i)),
                                                      "project_code": .text(String(format: "2026-330000-%06d", cases + 1))])
                var v: [String: FieldValue] = [
                    "case_no": .text(String(format: "DB-2026-%05d", cases + 1)), "status": .text("EXECUTING"),
                    "agent_id": .text(String(format: "P%04d", a)), "township_id": .text(office(i)), "office_id": .text(office(i)),
                    "project_id": .text(p), "enterprise_id": .text(e),
                ]
                if k == 1, a % 5 == 0, a < agents.count { v["team"] = .text(String(format: "P%04d", a + 1)) }
                try tx.put(table: "case", key: c, v)
                for n in 1...itemsPerCase {
                    try tx.put(table: "plan_item", key: "\(c).\(n)", [
                        "case_id": .text(c), "n": .int(Int64(n)), "status": .text("PLANNED"),
                        "department_id": .text(String(format: "D-%02d", dice.int(1...loadDepartments))),
                    ])
                }
                cases += 1
            }
        }
    }
    return cases
}

/// Every visible row of `server`, by table and key (values only).
private func allRows(_ r: ReplicaDatabase) throws -> [String: [String: [String: FieldValue]]] {
    var out: [String: [String: [String: FieldValue]]] = [:]
    for table in r.schema.tables.keys {
        var rows: [String: [String: FieldValue]] = [:]
        for rec in try r.list(table: table) {
            rows[rec.key] = Dictionary(uniqueKeysWithValues: rec.fields.map { ($0.name, $0.value) })
        }
        out[table] = rows
    }
    return out
}

/// The read facts (who may see it) of every visible row of `server`, by table and key: worked out once, then
/// judged for each account with `AccessRules.mayRead`, as a pull judges them.
private func allFacts(_ server: ReplicaDatabase, _ rows: [String: [String: [String: FieldValue]]]) throws
    -> [String: [String: RowFacts]]
{
    try server.query { db in
        let reader = FactsReader(snapshot: db)
        var out: [String: [String: RowFacts]] = [:]
        for (table, keys) in rows {
            var facts: [String: RowFacts] = [:]
            for key in keys.keys { facts[key] = try reader.rowFacts(table: table, key: key, exists: true) }
            out[table] = facts
        }
        return out
    }
}

/// How `device` differs from what the server holds (`rows`, their `facts`, its replica `server`) for `user`'s
/// scope (the server's own read rules), or nil when it holds exactly those rows with the same values and the same
/// field states (every version with its vector, so the same conflicts). `states` keeps the server's row states
/// read so far.
private func scopeDifference(server: ReplicaDatabase, rows: [String: [String: [String: FieldValue]]],
                             facts: [String: [String: RowFacts]], states: inout [String: RowState],
                             device: ReplicaDatabase, user: User) throws -> String? {
    let held = try allRows(device)
    let account = try server.query { db in
        try AccountDirectory.account(db, role: user.role, userID: String(user.id), user: user.name,
                                     township: user.township, department: user.department)
    }
    for table in rows.keys.sorted() {
        let all = rows[table] ?? [:]
        let inScope = user.role == .center ? Set(all.keys)
            : Set(all.keys.filter { key in facts[table]?[key].map { AccessRules.mayRead(account, $0) } ?? false })
        let mine = held[table] ?? [:]
        if let k = inScope.sorted().first(where: { mine[$0] == nil }) {
            return "lacks \(table) \(k) (\(inScope.count) rows in scope, \(mine.count) held)"
        }
        if let k = mine.keys.sorted().first(where: { !inScope.contains($0) }) {
            return "holds \(table) \(k), which the server does not give it"
        }
        if let k = inScope.sorted().first(where: { mine[$0] != all[$0] }) {
            return "\(table) \(k) differs from the server's"
        }
        for k in inScope.sorted() {
            let id = table + "\u{0}" + k
            if states[id] == nil { states[id] = try server.rowState(table: table, key: k) }
            if try device.rowState(table: table, key: k) != states[id] {
                return "\(table) \(k) holds other versions than the server's (vectors or conflicts)"
            }
        }
    }
    return nil
}
