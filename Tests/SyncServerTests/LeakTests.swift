import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import ReplicaStore
import SyncClient
import SyncCore
import SyncServer
import SyncTesting
import Testing
import Synchronization

/// A random county over time: cases are registered, assigned, reassigned, moved between townships, worked on by
/// their agents, liaisons and townships, and partly deleted; after every step every device syncs, and then no
/// device holds a row outside its scope, and every device holds every row inside it with the server's state,
/// deletions included. The expected scopes come from an oracle written here from the rules as documented
/// (SECURITY.md), not from the server's own code. A failure names its seed: `LEAK_SEED=<seed>` replays it.
@Suite struct LeakTests {
    static let townships = ["T1", "T2", "T3"]
    static let departments = ["D1", "D2", "D3"]
    static let agents = ["g1": "T1", "g2": "T1", "g3": "T2", "g4": "T3"]  // login → home township (for flavour)
    static let liaisons = ["l1": "D1", "l2": "D2"]
    static let towns = ["t1": "T1", "t2": "T2"]

    @Test func noDeviceEverHoldsARowOutsideItsScope() async throws {
        let seed = ProcessInfo.processInfo.environment["LEAK_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max >> 1)
        let steps = Int(ProcessInfo.processInfo.environment["LEAK_STEPS"] ?? "") ?? 150
        try await Self.run(seed: seed, steps: steps)
    }

    /// Counties in which this test once found a leak, replayed for a few steps on every run.
    /// - 7456439632562968514 (step 0): a project of township T1 named by an unassigned case of township T2 reached
    ///   T1's office through the prospect rule, which had been widened to "no assigned case names it".
    @Test(arguments: [7_456_439_632_562_968_514 as UInt64])
    func namedCounties(seed: UInt64) async throws {
        try await Self.run(seed: seed, steps: 3)
    }

    /// A case that reaches a new agent brings its deleted rows whole, with the fields their deletion covers, as
    /// a device pulling from the start receives them. Seed 57569626166473237 found this at step 67: a work log
    /// deleted in the push that reassigned its case reached the new agent as a bare deletion, a state no other
    /// replica held (the rows re-sent on a scope entry were the live ones only).
    @Test func aCaseReachingAnAgentBringsItsDeletedRowsWhole() async throws {
        let f = try ServerFixture(runningClock: true)
        try await f.user("admin", .center)
        try await f.user("g1", .agent)
        try await f.user("g2", .agent)
        let centre = try f.replica("admin"), g2 = try f.replica("g2")
        try centre.write { tx in
            for a in ["g1", "g2"] {
                try tx.put(table: "person", key: "P-" + a, ["name": .text("代办员\(a)"), "login": .text(a), "roles": .text("AGENT")])
            }
            try tx.put(table: "case", key: "C1", ["status": .text("EXECUTING"), "agent_id": .text("P-g1")])
            for log in ["C1.log0", "C1.log1", "C1.log2"] {
                try tx.put(table: "work_log", key: log, ["case_id": .text("C1"), "content": .text("登记")])
            }
        }
        try await withLiveServer(f) { url in
            try await syncDevice("admin", centre, url)
            try await syncDevice("g2", g2, url)
            try centre.write { tx in try tx.delete(table: "work_log", key: "C1.log1") }  // long before
            try await syncDevice("admin", centre, url)
            try centre.write { tx in
                try tx.delete(table: "work_log", key: "C1.log0")  // in the same push as the reassignment
                try tx.put(table: "case", key: "C1", ["agent_id": .text("P-g2")])
            }
            try await syncDevice("admin", centre, url)
            try await syncDevice("g2", g2, url)
        }
        for log in ["C1.log0", "C1.log1", "C1.log2"] {
            let mine = try g2.rowState(table: "work_log", key: log)
            #expect(mine != nil, "\(log) did not reach the new agent")
            #expect(mine == (try f.server.replica.rowState(table: "work_log", key: log)), "\(log) differs from the server's")
        }
        #expect(try g2.rowState(table: "work_log", key: "C1.log0")?.fields["content"] != nil)
    }

    static func run(seed: UInt64, steps: Int) async throws {
        let f = try ServerFixture(runningClock: true) { $0.pullChunkBytes = 16 << 10 }
        try await f.user("admin", .center)
        for a in Self.agents.keys { try await f.user(a, .agent) }
        for (l, d) in Self.liaisons { try await f.user(l, .liaison, department: d) }
        for (t, town) in Self.towns { try await f.user(t, .township, township: town) }
        let county = Mutex(LeakCounty(f, seed: seed))
        let centre = try county.withLock { try $0.device("admin") }
        try centre.write { tx in
            for t in Self.townships { try tx.put(table: "township", key: t, ["name": .text("乡镇\(t)")]) }
            for a in Self.agents.keys.sorted() {
                try tx.put(table: "person", key: "P-" + a, ["name": .text("代办员\(a)"), "login": .text(a), "roles": .text("AGENT")])
            }
            for (l, d) in Self.liaisons.sorted(by: { $0.key < $1.key }) {
                try tx.put(table: "person", key: "P-" + l, ["name": .text("联络员\(l)"), "login": .text(l),
                                                           "roles": .text("LIAISON"), "department_id": .text(d)])
            }
        }
        let users = ["admin"] + Self.agents.keys.sorted() + Self.liaisons.keys.sorted() + Self.towns.keys.sorted()
        let checks = Mutex((rows: 0, devices: 0))
        let stop = Mutex<[String]>([])
        try await withLiveServer(f) { url in
            for step in 0..<steps {
                // Writes of this step.
                try county.withLock { c in
                    let n = step == 0 ? 60 : Int(c.g.next() % 3) + 1
                    for _ in 0..<n { try c.mutate() }
                }
                for user in users {
                    let d = try county.withLock { try $0.device(user) }
                    try await syncDevice(user, d, url)
                    _ = try d.revertRefusals(nil)  // a write raced with a reassignment: take the server's value back
                }
                // Every device again, so that what one device's writes changed reaches the others this step.
                for user in users { try await syncDevice(user, try county.withLock { try $0.device(user) }, url) }
                for user in users {
                    let d = try county.withLock { try $0.device(user) }
                    let result = try Oracle.check(user: user, device: d, server: f.server.replica)
                    checks.withLock { $0.rows += result.rows; $0.devices += 1 }
                    if !result.problems.isEmpty {
                        stop.withLock { $0 = result.problems.prefix(5).map { "seed \(seed) step \(step) \(user): \($0)" } }
                        return
                    }
                }
            }
        }
        for problem in stop.withLock({ $0 }) { Issue.record("\(problem)") }
        let checked = checks.withLock { $0 }
        print("leak test: seed \(seed), \(steps) steps, \(checked.devices) device checks, \(checked.rows) rows compared")
        #expect(checked.rows > steps * 50)
    }
}

/// The county's devices and the writes each may make.
struct LeakCounty {
    let f: ServerFixture
    var devices: [String: ReplicaDatabase] = [:]
    var g: SeededGenerator
    var next = 0
    init(_ f: ServerFixture, seed: UInt64) {
        self.f = f
        g = SeededGenerator(seed: seed)
    }

    mutating func device(_ user: String) throws -> ReplicaDatabase {
        if let d = devices[user] { return d }
        let d = try f.replica(user)
        devices[user] = d
        return d
    }

    /// One honest write by a random party, within what that party may do.
    mutating func mutate() throws {
        var g = self.g
        defer { self.g = g }
        func pick<T>(_ a: [T]) -> T { a[Int(g.next() % UInt64(a.count))] }
        let centre = try device("admin")
        let cases = try centre.query { db in try String.fetchAll(db, sql: "SELECT _key FROM v_case ORDER BY _key") }
        switch cases.count < 30 ? 0 : g.next() % 10 {
        case 0, 1:  // the centre registers a case with items and logs
            next += 1
            let c = "C\(next)", t = pick(LeakTests.townships)
            try centre.write { tx in
                try tx.put(table: "enterprise", key: "E\(next)", ["name": .text("企业\(next)")])
                try tx.put(table: "project", key: "P\(next)", ["name": .text("项目\(next)"), "enterprise_id": .text("E\(next)"),
                                                              "township_id": .text(t)])
                var v: [String: FieldValue] = ["status": .text("EXECUTING"), "township_id": .text(t), "office_id": .text(t),
                                               "project_id": .text("P\(next)"), "enterprise_id": .text("E\(next)")]
                if g.next() % 4 != 0 { v["agent_id"] = .text("P-" + pick(LeakTests.agents.keys.sorted())) }
                try tx.put(table: "case", key: c, v)
                for i in 1...Int(g.next() % 3 + 1) {
                    try tx.put(table: "plan_item", key: "\(c).\(i)", ["case_id": .text(c), "n": .int(Int64(i)),
                                                                      "department_id": .text(pick(LeakTests.departments)),
                                                                      "status": .text("ACCEPTED")])
                }
                try tx.put(table: "work_log", key: "\(c).log0", ["case_id": .text(c), "content": .text("登记")])
            }
        case 2, 3:  // reassignment, team changes
            let c = pick(cases)
            try centre.write { tx in
                if g.next() % 3 == 0 {
                    try tx.put(table: "case", key: c, ["team": .text(g.next() % 2 == 0 ? "" : "P-" + pick(LeakTests.agents.keys.sorted()))])
                } else {
                    try tx.put(table: "case", key: c, ["agent_id": g.next() % 5 == 0 ? .null : .text("P-" + pick(LeakTests.agents.keys.sorted()))])
                }
            }
        case 4:  // the case moves to another township
            let c = pick(cases), t = pick(LeakTests.townships)
            try centre.write { tx in try tx.put(table: "case", key: c, ["township_id": .text(t), "office_id": .text(t)]) }
        case 5:  // the centre deletes a log or an item, or adds an item of another department
            let c = pick(cases)
            try centre.write { tx in
                let logs = try String.fetchAll(tx.queryDatabase(), sql: "SELECT _key FROM v_work_log WHERE case_id = ?", arguments: [c])
                let items = try String.fetchAll(tx.queryDatabase(), sql: "SELECT _key FROM v_plan_item WHERE case_id = ?", arguments: [c])
                switch g.next() % 3 {
                case 0 where !logs.isEmpty: try tx.delete(table: "work_log", key: pick(logs))
                case 1 where !items.isEmpty: try tx.delete(table: "plan_item", key: pick(items))
                default:
                    try tx.put(table: "plan_item", key: "\(c).x\(g.next() % 1000)", ["case_id": .text(c), "department_id": .text(pick(LeakTests.departments)),
                                                                                     "status": .text("ACCEPTED")])
                }
            }
        case 6, 7:  // an agent logs work on one of its cases
            let a = pick(LeakTests.agents.keys.sorted())
            let d = try device(a)
            let mine = try d.query { db in try String.fetchAll(db, sql: "SELECT _key FROM v_case ORDER BY _key") }
            guard !mine.isEmpty else { return }
            next += 1
            let c = pick(mine)
            try d.write { tx in try tx.put(table: "work_log", key: "\(c).w\(next)", ["case_id": .text(c), "content": .text("走访\(next)")]) }
        case 8:  // a liaison records a decision on an item of its department
            let l = pick(LeakTests.liaisons.keys.sorted())
            let d = try device(l)
            let items = try d.query { db in
                try String.fetchAll(db, sql: "SELECT _key FROM v_plan_item WHERE department_id = ?", arguments: [LeakTests.liaisons[l]!])
            }
            guard !items.isEmpty else { return }
            try d.write { tx in try tx.put(table: "plan_item", key: pick(items), ["status": .text("APPROVED"), "decided_on": .date(20_400)]) }
        default:  // a township writes on a case of its jurisdiction
            let t = pick(LeakTests.towns.keys.sorted())
            let d = try device(t)
            let mine = try d.query { db in try String.fetchAll(db, sql: "SELECT _key FROM v_case ORDER BY _key") }
            guard !mine.isEmpty else { return }
            next += 1
            let c = pick(mine)
            try d.write { tx in try tx.put(table: "work_log", key: "\(c).t\(next)", ["case_id": .text(c), "content": .text("乡镇\(next)")]) }
        }
    }
}

/// Who should hold what, from the rules as documented: agents their assigned and team cases; townships the
/// cases of their township; liaisons the cases with an item of their department (case, project, enterprise,
/// items); the centre everything. A case's rows are the case, its project and enterprise, its items and its
/// work logs (not for liaisons). A deleted row must reach every device that held it, and a device that never
/// held it need not get it (it may), so deleted rows are required only to be absent outside the scope.
enum Oracle {
    static func expected(user: String, server: ReplicaDatabase) throws -> (all: Set<String>, live: Set<String>) {
        try server.query { db in
            var out = Set<String>()
            for t in ["township", "person"] {
                for k in try String.fetchAll(db, sql: "SELECT key FROM row WHERE tbl = ?", arguments: [t]) { out.insert(t + "/" + k) }
            }
            for c in try String.fetchAll(db, sql: "SELECT key FROM row WHERE tbl = 'case'") {
                let v = try StoredRow.load(db, table: "case", key: c)?.values ?? [:]
                let items = try String.fetchAll(db, sql: "SELECT _key FROM v_plan_item WHERE case_id = ?", arguments: [c])
                let departments = Set(try items.compactMap { try StoredRow.load(db, table: "plan_item", key: $0)?.values["department_id"] })
                let team = (v["team"] ?? "").split(separator: ",").map(String.init)
                let sees: Bool
                var logs = true
                if user == "admin" {
                    sees = true
                } else if let town = LeakTests.towns[user] {
                    sees = v["township_id"] == town || v["office_id"] == town
                } else if let dept = LeakTests.liaisons[user] {
                    sees = departments.contains(dept)
                    logs = false
                } else {
                    sees = v["agent_id"] == "P-" + user || team.contains("P-" + user)
                }
                guard sees else { continue }
                out.insert("case/" + c)
                if let p = v["project_id"] { out.insert("project/" + p) }
                if let e = v["enterprise_id"] { out.insert("enterprise/" + e) }
                for (table, include) in [("plan_item", true), ("work_log", logs)] where include {
                    for k in try childKeys(db, table, c) { out.insert(table + "/" + k) }
                }
            }
            if user == "admin" {
                for k in try String.fetchAll(db, sql: "SELECT tbl || '/' || key FROM row") { out.insert(k) }
            }
            let deleted = Set(try String.fetchAll(db, sql: "SELECT tbl || '/' || key FROM row WHERE deleted = 1"))
            return (out, out.subtracting(deleted))
        }
    }

    /// Every row of `table` naming the case, deleted ones too.
    static func childKeys(_ db: Database, _ table: String, _ c: String) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT r.key FROM row r JOIN field f ON f.row = r.id JOIN field_name n ON n.id = f.field
            WHERE r.tbl = ? AND n.tbl = ? AND n.name = 'case_id' AND f.value = ?
            """, arguments: [table, table, c])
    }

    /// Compares a device with the oracle and with the server's states.
    static func check(user: String, device: ReplicaDatabase, server: ReplicaDatabase) throws
        -> (rows: Int, problems: [String])
    {
        let (want, live) = try expected(user: user, server: server)
        let held = try device.query { db in Set(try String.fetchAll(db, sql: "SELECT tbl || '/' || key FROM row")) }
        var problems: [String] = []
        for leak in held.subtracting(want).sorted() {
            let parts = leak.split(separator: "/", maxSplits: 1).map(String.init)
            let facts = try server.query { db in try StoredRow.load(db, table: parts[0], key: parts[1])?.values ?? [:] }
            let cases = try server.query { db in
                try Row.fetchAll(db, sql: "SELECT _key, township_id, agent_id FROM v_case WHERE project_id = ? OR enterprise_id = ?",
                                 arguments: [parts[1], parts[1]]).map { "\($0[0] as String) \($0[1] as String? ?? "-") \($0[2] as String? ?? "-")" }
            }
            problems.append("holds \(leak), outside its scope (server: \(facts.sorted { $0.key < $1.key }), cases \(cases))")
        }
        for missing in live.subtracting(held).sorted() { problems.append("lacks \(missing), inside its scope") }
        var compared = 0
        for row in want.intersection(held).sorted() {
            let parts = row.split(separator: "/", maxSplits: 1).map(String.init)
            let mine = try device.rowState(table: parts[0], key: parts[1])
            let theirs = try server.rowState(table: parts[0], key: parts[1])
            if mine != theirs { problems.append("\(row) differs from the server's (deleted here: \(mine?.isDeleted == true), there: \(theirs?.isDeleted == true))") }
            compared += 1
        }
        return (compared, problems)
    }
}

