import CaseDomain
import CaseWorkflow
import Foundation
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import SyncProtocol
import SyncServer
import SyncTesting
import Testing

/// A small county on a live server (real HTTP on 127.0.0.1): the centre's roster and two cases, and the
/// devices of the people who work on them.
///
/// - `admin` (centre); `a03`, `a04` (agents, people A03, A04); `dg`, `sm` (townships OFF-DG, OFF-SM);
///   `lly`, `lzg` (liaisons of D-LY, D-ZG).
/// - Case `CA`: agent A03, township OFF-DG, project PA of enterprise EA, items CA.1 (D-LY) and CA.2 (D-ZG),
///   work logs CA.log1–3, an owner's evaluation of A03.
/// - Case `CB`: agent A04, township OFF-SM, project PB of enterprise EB, item CB.1 (D-ZG), work logs CB.log1–3.
final class TrustCounty: @unchecked Sendable {
    let f: ServerFixture
    private(set) var devices: [String: ReplicaDatabase] = [:]
    static let roles: [(String, Role, String?, String?)] = [
        ("admin", .center, nil, nil), ("a03", .agent, nil, nil), ("a04", .agent, nil, nil),
        ("dg", .township, "OFF-DG", nil), ("sm", .township, "OFF-SM", nil),
        ("lly", .liaison, nil, "D-LY"), ("lzg", .liaison, nil, "D-ZG"),
    ]

    /// - Parameter backend: where the server keeps its accounts and replica (PostgreSQL: the shared replica of
    ///   several instances, here one).
    init(_ backend: Backend = .sqlite, _ configure: (inout ServerConfig) -> Void = { _ in }) async throws {
        f = try await ServerFixture.make(backend, runningClock: true) { c in
            c.pullChunkBytes = 16 << 10
            configure(&c)
        }
        for (name, role, township, department) in Self.roles {
            try await f.user(name, role, township: township, department: department)
        }
        let centre = try device("admin")
        try centre.write { tx in
            for (id, name, login, roles, dept) in [("A03", "郑海波", "a03", "AGENT", nil), ("A04", "吴丽娟", "a04", "AGENT", nil),
                                                    ("L-LY", "孙浩", "lly", "LIAISON", "D-LY"), ("L-ZG", "李娜", "lzg", "LIAISON", "D-ZG"),
                                                    ("ADM-DG", "东港镇管理员", "dg", "OFFICE_ADMIN", nil)] as [(String, String, String, String, String?)] {
                var v: [String: FieldValue] = ["name": .text(name), "login": .text(login), "roles": .text(roles)]
                if let dept { v["department_id"] = .text(dept) }
                try tx.put(table: "person", key: id, v)
            }
            for (t, n) in [("OFF-DG", "东港镇"), ("OFF-SM", "石门乡")] {
                try tx.put(table: "township", key: t, ["name": .text(n), "office_id": .text(t)])
            }
            for (c, agent, town, items) in [("CA", "A03", "OFF-DG", ["D-LY", "D-ZG"]), ("CB", "A04", "OFF-SM", ["D-ZG"])] {
                let p = "P" + c.dropFirst(), e = "E" + c.dropFirst()
                try tx.put(table: "enterprise", key: e, ["name": .text("企业\(c)"), "uscc": .text("91330000000000\(c)01")])
                try tx.put(table: "project", key: p, ["name": .text("项目\(c)"), "enterprise_id": .text(e), "township_id": .text(town)])
                try tx.put(table: "case", key: c, ["status": .text("EXECUTING"), "agent_id": .text(agent), "township_id": .text(town),
                                                   "office_id": .text(town), "project_id": .text(p), "enterprise_id": .text(e)])
                for (i, d) in items.enumerated() {
                    try tx.put(table: "plan_item", key: "\(c).\(i + 1)", ["case_id": .text(c), "n": .int(Int64(i + 1)),
                                                                        "department_id": .text(d), "status": .text("ACCEPTED")])
                }
                for i in 1...3 {
                    try tx.put(table: "work_log", key: "\(c).log\(i)", ["case_id": .text(c), "kind": .text("CALL"),
                                                                       "content": .text("\(c) 走访记录 \(i)")])
                }
            }
            try tx.put(table: "evaluation", key: "EV-A", ["case_id": .text("CA"), "direction": .text("OWNER_TO_AGENT"),
                                                         "target_person_id": .text("A03"), "grade": .text("不满意")])
        }
    }

    /// The device of `user` (made on first use: a replica with its own key, author = the user).
    func device(_ user: String, fresh: Bool = false) throws -> ReplicaDatabase {
        if !fresh, let d = devices[user] { return d }
        let d = try f.replica(fresh ? "\(user)-\(UUID().uuidString.prefix(6))" : user, author: user)
        if !fresh { devices[user] = d }
        return d
    }

    /// Runs `body` with the server listening on 127.0.0.1.
    func live(_ body: @Sendable @escaping (String) async throws -> Void) async throws {
        try await withLiveServer(f, body)
    }

    /// Runs `body` on a live server once the centre (which holds the reference data) and then each of `users`
    /// have synced: the start of most attacks.
    func liveSynced(_ users: String..., body: @Sendable @escaping (String) async throws -> Void) async throws {
        try await live { url in
            try await self.sync("admin", url)
            for user in users { try await self.sync(user, url) }
            try await body(url)
        }
    }

    /// Signs `replica` in as `user`.
    func session(_ user: String, _ replica: ReplicaDatabase, _ url: String) async throws -> (ServerConnection, SessionTokens) {
        let c = try ServerConnection(url: url, clock: replica.now)
        let t = try await c.login(user: user, password: "pw-\(user)-secret", replica: replica.id, deviceName: user,
                                  signer: replica.signer)
        return (c, t)
    }

    /// One whole `daiban sync` of a device, as the CLI runs it (relays, refusals, scope exits).
    @discardableResult
    func sync(_ user: String, _ url: String, replica: ReplicaDatabase? = nil) async throws -> SyncReport {
        try await syncDevice(user, try replica ?? device(user), url)
    }

    /// Pushes raw bytes as `user`'s device (a modified client) and returns the answer.
    func push(_ bytes: [UInt8], as user: String, _ url: String, replica: ReplicaDatabase? = nil, relay: Bool = false)
        async throws -> PushAck
    {
        let (c, t) = try await session(user, try replica ?? device(user), url)
        defer { Task { await c.shutdown() } }
        return relay ? try await c.relay(bytes, token: t.accessToken) : try await c.push(bytes, token: t.accessToken)
    }

    /// The server's visible value of a field.
    func serverValue(_ table: String, _ key: String, _ field: String) throws -> FieldValue? {
        try f.server.replica.get(table: table, key: key)?.fields.first { $0.name == field }?.value
    }

    /// `table.key.field` → reason of every refusal in an answer.
    static func reasons(_ ack: PushAck) -> [String: String] {
        Dictionary(ack.rejected.map { ("\($0.table).\($0.key).\($0.field)", $0.reason) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Runs `body` with the fixture's server listening on 127.0.0.1.
func withLiveServer(_ f: ServerFixture, _ body: @Sendable @escaping (String) async throws -> Void) async throws {
    let app = Application(router: f.server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    try await app.test(.live) { client in try await body("http://127.0.0.1:\(try #require(client.port))") }
}

/// One whole `daiban sync` of a device signed in as `user` (password `pw-<user>-secret`), as the CLI runs it.
@discardableResult
func syncDevice(_ user: String, _ replica: ReplicaDatabase, _ url: String) async throws -> SyncReport {
    let c = try ServerConnection(url: url, clock: replica.now)
    let t: SessionTokens
    do {
        t = try await c.login(user: user, password: "pw-\(user)-secret", replica: replica.id, deviceName: user,
                              signer: replica.signer)
    } catch {
        await c.shutdown()
        throw error
    }
    let s = Synchronizer(replica: replica, connection: c, tokens: t, saveTokens: { _ in })
    s.retries = 0
    s.chunkBytes = 16 << 10
    s.rowsOfExit = ReadScope.rowsOfExit
    do {
        let report = try await s.run()
        await c.shutdown()
        return report
    } catch {
        await c.shutdown()
        throw error
    }
}

/// A version written by `writer` by hand (what a modified client can put in a bundle).
func forged(_ value: FieldValue, vv: [(ReplicaID, UInt64)], writer: ReplicaID, author: String,
            at ms: UInt64 = ReplicaDatabase.wallClockMillis()) -> FieldState {
    FieldState(FieldVersion(value: value, vv: VersionVector(vv), hlc: HLCTimestamp(physical: ms, logical: 0), writer: writer,
                            author: author))
}

/// A signed one-row bundle from `sender`.
func forgedBundle(_ sender: ReplicaDatabase, toSeq: UInt64 = 1_000, _ rows: [RowChange], signer: DeviceKey? = nil) -> [UInt8] {
    ChangeSetEncoder().encode(ChangeSet(sender: sender.id, fromSeq: 0, toSeq: toSeq, rows: rows), signer: signer ?? sender.signer)
}
