import CaseDomain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ReplicaStore
import SyncCore
import SyncContract
import SyncServer
import SyncTesting
import SyncProtocol
import Synchronization
import Testing

/// A server on a temporary data folder with a clock the test moves, plus client replicas beside it.
final class ServerFixture: Sendable {
    let dir: TemporaryDirectory
    let server: DaibanServer
    let clock: TestClock
    private let ownsDirectory: Bool
    /// The PostgreSQL accounts database, closed and dropped with the fixture.
    private let accountBackend: AccountBackend?
    /// The wall clock now, Unix seconds: a fixture's clock starts at it, so that devices' signed sign-ins are fresh.
    static var start: Int64 { Int64(Date().timeIntervalSince1970) }

    /// - Parameter runningClock: the server's clock runs with the wall clock (moved on by `advance`) instead of
    ///   standing still until advanced: for long tests whose devices sign in with their own clocks.
    init(runningClock: Bool = false, _ configure: (inout ServerConfig) -> Void = { _ in }) throws {
        dir = try TemporaryDirectory("daiban-server")
        var config = ServerConfig()
        config.data = dir.file("data")
        config.bcryptCost = 4
        configure(&config)
        clock = TestClock(Self.start, running: runningClock)
        ownsDirectory = true
        accountBackend = nil
        server = try Self.reopen(config, clock: clock)
    }

    /// A server whose accounts are on `backend`: the data folder's SQLite file, or a fresh PostgreSQL database.
    static func make(_ backend: Backend, runningClock: Bool = false,
                     _ configure: (inout ServerConfig) -> Void = { _ in }) async throws -> ServerFixture {
        guard backend == .postgres else { return try ServerFixture(runningClock: runningClock, configure) }
        let accounts = try await AccountBackend.make(.postgres)
        let dir = try TemporaryDirectory("daiban-server")
        var config = ServerConfig()
        config.data = dir.file("data")
        config.bcryptCost = 4
        configure(&config)
        let clock = TestClock(Self.start, running: runningClock)
        var logger = Logger(label: "daiban.test")
        logger.logLevel = .error
        let server = try await DaibanServer.open(config: config, database: accounts.url!, accounts: accounts.store,
                                                 logger: logger, now: { clock.now })
        return ServerFixture(server: server, dir: dir, clock: clock, accounts: accounts)
    }

    /// Another server instance on this fixture's PostgreSQL database (its own data folder with its own copy of the
    /// replica, the same clock), as a second `daiban-server` behind a load balancer would be.
    func instance() async throws -> ServerFixture {
        guard let accountBackend else { throw AccountBackend.PostgresMissing() }
        let store = try await accountBackend.instance()
        let other = try TemporaryDirectory("daiban-server")
        var config = server.config
        config.data = other.file("data")
        var logger = Logger(label: "daiban.test")
        logger.logLevel = .error
        let clock = clock
        let server = try await DaibanServer.open(config: config, database: accountBackend.url!, accounts: store,
                                                 logger: logger, now: { clock.now })
        return try ServerFixture(server: server, dir: other, clock: clock, owningDirectory: true)
    }

    private init(server: DaibanServer, dir: TemporaryDirectory, clock: TestClock, owningDirectory: Bool) throws {
        self.dir = dir
        self.server = server
        self.clock = clock
        ownsDirectory = owningDirectory
        accountBackend = nil
    }

    private init(server: DaibanServer, dir: TemporaryDirectory, clock: TestClock, accounts: AccountBackend) {
        self.dir = dir
        self.server = server
        self.clock = clock
        ownsDirectory = true
        accountBackend = accounts
    }

    /// A fixture around an already opened server (sharing the first fixture's folder and clock).
    init(server: DaibanServer, dir: TemporaryDirectory, clock: TestClock) throws {
        self.dir = dir
        self.server = server
        self.clock = clock
        ownsDirectory = false
        accountBackend = nil
    }

    /// Opens a server on an existing data folder with a quiet logger.
    static func reopen(_ config: ServerConfig, clock: TestClock) throws -> DaibanServer {
        var logger = Logger(label: "daiban.test")
        logger.logLevel = .error
        return try DaibanServer(config: config, logger: logger, now: { clock.now })
    }

    deinit {
        if let accountBackend {
            Task { try? await accountBackend.close() }
        } else if ownsDirectory {
            let accounts = server.accounts
            Task { await accounts.database.close() }
            dir.cleanup()
        }
    }

    /// The PostgreSQL database's URL (nil on SQLite).
    var databaseURL: String? { accountBackend?.url }

    func advance(seconds: Int64) { clock.value.withLock { $0 += seconds } }

    /// Adds a user whose password is `pw-<name>-secret`.
    @discardableResult
    func user(_ name: String, _ role: Role, township: String? = nil, department: String? = nil) async throws -> User {
        try await server.accounts.addUser(name: name, role: role, township: township, department: department,
                                          password: "pw-\(name)-secret", cost: 4, now: Self.start)
    }

    /// A fresh client replica in the fixture's folder, with its own signing key (as `daiban init` makes).
    func replica(_ name: String, id: ReplicaID = .random(), author: String? = nil) throws -> ReplicaDatabase {
        var r = try ReplicaDatabase.create(at: dir.file("\(name).sqlite"), schema: DaibanSchema.schema, id: id,
                                           author: author ?? name)
        r.signer = DeviceKey()
        return r
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: server.router())
        try await app.test(.router, body)
    }
}

/// Unix seconds the test moves by hand.
/// A clock the test moves: standing still, or running with the wall clock.
final class TestClock: Sendable {
    /// The time (standing) or the seconds added to the wall clock (running).
    let value: Mutex<Int64>
    let running: Bool
    init(_ start: Int64, running: Bool = false) {
        self.running = running
        value = Mutex(running ? start - Int64(Date().timeIntervalSince1970) : start)
    }
    var now: Int64 { (running ? Int64(Date().timeIntervalSince1970) : 0) + value.withLock { $0 } }
}

/// Parsed answer of a test request.
struct Answer {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: [UInt8]

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
    /// `error.code` of an error body.
    var code: String? { (json["error"] as? [String: Any])?["code"] as? String }
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}

struct Tokens {
    var access: String
    var refresh: String
}

extension TestClientProtocol {
    func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, protocolVersion: String? = "2",
              body: [UInt8]? = nil, headers extra: [String: String] = [:]) async throws -> Answer {
        var headers = HTTPFields()
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        if let protocolVersion { headers[HTTPField.Name("Daiban-Protocol")!] = protocolVersion }
        if let token { headers[.authorization] = "Bearer " + token }
        let response = try await execute(uri: uri, method: method, headers: headers,
                                         body: body.map { ByteBuffer(bytes: $0) })
        var buffer = response.body
        return Answer(status: response.status, headers: response.headers,
                      body: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// `POST /v1/login`; `signer` signs the sign-in as the client does (`proofBy` signs it instead, to forge one;
    /// `proofTime` replaces the fixture's clock).
    func login(_ user: String, password: String? = nil, replica: ReplicaID, signer: DeviceKey? = nil,
               proofBy: DeviceKey? = nil, proofTime: Int64? = nil) async throws -> Answer {
        var fields: [String: Any] = [
            "user": user, "password": password ?? "pw-\(user)-secret", "replica": replica.description,
            "device_name": "test-\(user)",
        ]
        if let signer {
            let time = proofTime ?? ServerFixture.start
            let proof = (proofBy ?? signer).sign(LoginRequest.proofMessage(user: user, replica: replica.description, time: time))
            fields["device_key"] = hexString(signer.publicKey)
            fields["device_proof"] = hexString(proof)
            fields["proof_time"] = time
        }
        let body = try JSONSerialization.data(withJSONObject: fields)
        return try await call(.post, "/v1/login", body: [UInt8](body))
    }

    func login(_ user: String, password: String? = nil, replica: ReplicaDatabase) async throws -> Answer {
        try await login(user, password: password, replica: replica.id, signer: replica.signer)
    }

    /// Signs in and returns the tokens, failing the test when login does not succeed.
    func signIn(_ user: String, replica: ReplicaDatabase) async throws -> Tokens {
        let a = try await login(user, replica: replica)
        try #require(a.status == .ok, "login of \(user) answered \(a.status) \(a.code ?? "")")
        return Tokens(access: a.json["access_token"] as! String, refresh: a.json["refresh_token"] as! String)
    }

    func push(_ bundle: [UInt8], _ token: String?) async throws -> Answer {
        try await call(.post, "/v1/push", token: token, body: bundle)
    }

    func relay(_ bundle: [UInt8], _ token: String?) async throws -> Answer {
        try await call(.post, "/v1/relay", token: token, body: bundle)
    }

    func pull(after: UInt64, _ token: String) async throws -> Answer {
        try await call(.get, "/v1/pull?after=\(after)", token: token)
    }
}

/// A bundle of everything a replica holds, signed with its key.
func bundle(_ r: ReplicaDatabase) throws -> [UInt8] { try r.exportBundle(for: nil).bytes }

extension Answer {
    /// The refusals of a push answer: `table.key.field` → reason.
    var refusals: [String: String] {
        var out: [String: String] = [:]
        for r in json["rejected"] as? [[String: Any]] ?? [] {
            out["\(r["table"] ?? "").\(r["key"] ?? "").\(r["field"] ?? "")"] = r["reason"] as? String
        }
        return out
    }
}

/// Writes `count` township rows with names of 40 random common Chinese characters (little redundancy for zlib).
func fill(_ r: ReplicaDatabase, rows count: Int, prefix: String = "T") throws {
    var g = SeededGenerator(seed: UInt64(count))
    try r.write { tx in
        for i in 0..<count {
            let name = String(String.UnicodeScalarView((0..<40).map { _ in
                Unicode.Scalar(0x4E00 + UInt32(g.next() % 3000))!
            }))
            try tx.put(table: "township", key: "\(prefix)\(i)", ["name": .text(name)])
        }
    }
}

/// Lowercase hex digits of bytes.
func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
