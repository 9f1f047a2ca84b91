import Foundation
import Crypto
import GRDB
import Logging
import NIOCore
import PostgresNIO
import NIOSSL
import ReplicaStore
import TerminalText

/// A value bound to, or read from, a statement of the account store.
public enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case text(String)
    case blob([UInt8])
}

extension SQLValue {
    init(_ v: Int64?) { self = v.map(SQLValue.int) ?? .null }
    init(_ v: String?) { self = v.map(SQLValue.text) ?? .null }
    init(_ v: [UInt8]?) { self = v.map(SQLValue.blob) ?? .null }
}

/// One row of an answer, read by column name.
public struct SQLRow: Sendable {
    let columns: [String: SQLValue]

    public func optionalInt(_ name: String) -> Int64? {
        if case .int(let v) = columns[name] { return v }
        return nil
    }
    public func int(_ name: String) -> Int64 { optionalInt(name) ?? 0 }
    public func optionalText(_ name: String) -> String? {
        if case .text(let v) = columns[name] { return v }
        return nil
    }
    public func text(_ name: String) -> String { optionalText(name) ?? "" }
    public func optionalBlob(_ name: String) -> [UInt8]? {
        if case .blob(let v) = columns[name] { return v }
        return nil
    }
    public func blob(_ name: String) -> [UInt8] { optionalBlob(name) ?? [] }
}

/// The statements of one transaction of the account store, in the SQL both backends speak: `?` placeholders,
/// `"user"` quoted, `RETURNING` instead of a last-row id, `ON CONFLICT` instead of `INSERT OR IGNORE`, integers
/// for booleans, and no `EXISTS` in a select list (SQLite answers it with an integer, PostgreSQL with a boolean).
public protocol AccountSQL: Sendable {
    /// The rows a statement answers.
    func rows(_ sql: String, _ args: [SQLValue]) async throws -> [SQLRow]
    /// Runs a statement whose answer is not needed.
    func run(_ sql: String, _ args: [SQLValue]) async throws
    /// Holds `name` until the transaction ends, against every other transaction on the database, whichever
    /// process runs it. SQLite's write transactions already exclude each other; PostgreSQL takes an advisory lock.
    func lock(_ name: String) async throws
}

extension AccountSQL {
    func row(_ sql: String, _ args: [SQLValue] = []) async throws -> SQLRow? { try await rows(sql, args).first }
    func run(_ sql: String) async throws { try await run(sql, []) }
}

/// Where the account store keeps its tables: an embedded SQLite file or a PostgreSQL database.
public protocol AccountDatabase: Sendable {
    /// `sqlite` or `postgres`.
    var backend: String { get }
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws. A transaction that is
    /// not `durable` is not waited for on disk at commit (a power cut may lose it; nothing else can).
    func transaction<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T
    /// Runs `body` as `transaction(durable: false)` does, for a sign-in attempt's counters. Where several
    /// instances share the database, only part of an instance's connections run attempts at once, so a flood of
    /// guesses at one name, each waiting for the others' lock, cannot take every connection from the other requests.
    func attemptTransaction<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T
    /// Runs `body`, whose statements only read, outside a transaction: each statement sees the committed state
    /// when it runs (a single statement reads one snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T
    /// The key access tokens are signed with, made on first use and then the same for every server on the database.
    func tokenKey() async throws -> SymmetricKey
    /// Stops the connections (PostgreSQL) or does nothing (SQLite).
    func close() async
}

// MARK: SQLite

/// The accounts in `<data>/accounts.sqlite`, through GRDB. WAL mode with a busy timeout, so `daiban-server user
/// add` works while the server runs. One connection: transactions of this process take turns (`TransactionGate`),
/// and `BEGIN IMMEDIATE` makes those of other processes wait for SQLite's write lock.
public final class SQLiteAccountDatabase: AccountDatabase {
    public var backend: String { "sqlite" }
    let queue: DatabaseQueue
    let tokenKeyPath: String
    private let gate = TransactionGate()

    /// Opens (creating) the file and runs its migrations. The token key is the file `token.key` beside it.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        // A transaction spans several calls (`transaction` runs async code between its statements).
        config.allowsUnsafeTransactions = true
        let sync = Durability.current.pragma
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // Sessions and refresh tokens as durable as the data: a token the client was given survives a power cut.
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
        }
        queue = try DatabaseQueue(path: path, configuration: config)
        tokenKeyPath = (path as NSString).deletingLastPathComponent + "/token.key"
        try AccountSchema.sqliteMigrator.migrate(queue)
    }

    public func transaction<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        try await enterGate()
        defer { gate.leaveSoon() }
        let sync = durable ? Durability.current.pragma : "OFF"
        // The whole transaction runs on the connection's thread: its statements are plain calls, not a hop each.
        return try await Self.$inside.withValue(true) { try await withTaskExecutorPreference(worker) {
            try step { db in
                // A transaction a failed ROLLBACK left open is ended before the next one starts.
                if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") }
                try db.execute(sql: "PRAGMA synchronous = \(sync)")
                try db.execute(sql: "BEGIN IMMEDIATE")
            }
            do {
                let result = try await body(Session(database: self))
                try step { db in
                    try db.execute(sql: "COMMIT")
                    try db.execute(sql: "PRAGMA synchronous = \(Durability.current.pragma)")
                }
                return result
            } catch {
                try? step { db in
                    if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") }
                    try db.execute(sql: "PRAGMA synchronous = \(Durability.current.pragma)")
                }
                throw error
            }
        } }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        try await enterGate()
        defer { gate.leaveSoon() }
        return try await Self.$inside.withValue(true) {
            try await withTaskExecutorPreference(worker) { try await body(Session(database: self)) }
        }
    }

    /// The process's transactions take turns already.
    public func attemptTransaction<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        try await transaction(durable: false, body)
    }

    /// The thread the connection's calls run on (a serial queue of its own, so a sign-in does not wait for a
    /// thread behind the replica's blocking work). A transaction's body runs there with it as its task executor,
    /// so each statement is a plain call on the thread, not a suspension and a resumption.
    private let worker = SerialQueueExecutor(label: "daiban.accounts")

    /// One call on the connection, on the worker. `transaction` and `read` run their bodies there; a body that
    /// lost the preference (a `Task.sleep` resumes elsewhere) waits for the worker instead.
    func step<T>(_ body: (Database) throws -> T) throws -> T {
        if worker.isCurrent { return try queue.inDatabase(body) }
        return try worker.queue.sync { try queue.inDatabase(body) }
    }

    /// Set while a task runs a transaction or read of this store: one started inside another would wait for
    /// itself at the gate, so it is refused instead.
    @TaskLocal static var inside = false

    private func enterGate() async throws {
        guard !Self.inside else { throw AccountNesting() }
        await gate.enter()
    }

    public func tokenKey() async throws -> SymmetricKey {
        try TokenSigner.load(path: tokenKeyPath).key
    }

    public func close() async {}

    struct Session: AccountSQL {
        let database: SQLiteAccountDatabase

        func rows(_ sql: String, _ args: [SQLValue]) async throws -> [SQLRow] {
            let arguments = StatementArguments(args.map(\.databaseValue))
            return try database.step { db in
                try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                    var columns: [String: SQLValue] = [:]
                    for (name, value) in row { columns[name] = SQLValue(value) }
                    return SQLRow(columns: columns)
                }
            }
        }

        func run(_ sql: String, _ args: [SQLValue]) async throws {
            let arguments = StatementArguments(args.map(\.databaseValue))
            try database.step { db in try db.execute(sql: sql, arguments: arguments) }
        }

        func lock(_ name: String) async throws {}
    }
}

extension SQLValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .null: return .null
        case .int(let v): return v.databaseValue
        case .text(let v): return v.databaseValue
        case .blob(let v): return Data(v).databaseValue
        }
    }

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let v): self = .int(v)
        case .double(let v): self = .int(Int64(v))
        case .string(let v): self = .text(v)
        case .blob(let v): self = .blob([UInt8](v))
        }
    }
}

/// At most `slots` callers at once between `enter` and `leave`; the others wait, in the order they asked.
actor TransactionGate {
    private let slots: Int
    private var inside = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(slots: Int = 1) { self.slots = max(1, slots) }

    func enter() async {
        guard inside >= slots else {
            inside += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// The slot passes to the first waiting caller, or is freed.
    func leave() {
        if waiting.isEmpty { inside -= 1 } else { waiting.removeFirst().resume() }
    }

    /// Leaves without waiting for the actor (from a `defer`): the next transaction starts when the actor runs it.
    nonisolated func leaveSoon() {
        Task { await self.leave() }
    }
}

/// A transaction or read of the SQLite account store was started inside another (it would wait for itself).
struct AccountNesting: Error, CustomStringConvertible {
    var description: String { "an account transaction was started inside another" }
}

/// A task executor on a serial dispatch queue: the jobs of tasks that prefer it run on the queue, one at a time.
final class SerialQueueExecutor: TaskExecutor {
    let queue: DispatchQueue
    private let key = DispatchSpecificKey<Bool>()

    init(label: String) {
        queue = DispatchQueue(label: label)
        queue.setSpecific(key: key, value: true)
    }

    /// Whether the caller runs on the queue.
    var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == true }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

// MARK: PostgreSQL

/// The accounts in a PostgreSQL database, through postgres-nio's connection pool (`PostgresClient`). Every
/// server instance on the database shares them: users, devices, refresh tokens, the sign-in counters and the
/// token key.
public final class PostgresAccountDatabase: AccountDatabase {
    public var backend: String { "postgres" }
    let client: PostgresClient
    private let running: Task<Void, Never>
    private let logger: Logger
    /// Sign-in attempts (and sweeps of faded counters) running at once on this instance: half its connections,
    /// at least one.
    private let attempts: TransactionGate

    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`, TLS
    /// required unless the URL says otherwise)
    /// and runs the migrations, which wait for each other when several servers start at once.
    /// A database that does not answer within `startTimeout` is reported as unreachable.
    public init(url: String, maxConnections: Int = 20, startTimeout: Duration = .seconds(15),
                logger: Logger = Logger(label: "daiban.accounts")) async throws {
        attempts = TransactionGate(slots: maxConnections / 2)
        var configuration = try PostgresURL.configuration(url)
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectTimeout = startTimeout
        let client = PostgresClient(configuration: configuration)
        self.client = client
        self.logger = logger
        running = Task { await client.run() }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await AccountSchema.migrate(client, logger: logger) }
                group.addTask {
                    try await Task.sleep(for: startTimeout)
                    throw ConfigError(L10n.t(.srvDatabaseUnreachable, PostgresURL.redacted(url), "\(startTimeout)"))
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            running.cancel()
            if error is ConfigError { throw error }
            throw ConfigError(L10n.t(.srvDatabaseFailed, PostgresURL.redacted(url), String(describing: error)))
        }
    }

    public func transaction<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                if !durable { try await connection.query("SET LOCAL synchronous_commit = off", logger: logger) }
                return try await body(Session(connection: connection, logger: logger))
            }
        } catch let error as PostgresTransactionError {
            // The closure's own error (an `AccountError`, an `APIError`) is what the caller handles.
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }

    public func attemptTransaction<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        await attempts.enter()
        defer { attempts.leaveSoon() }
        return try await transaction(durable: false, body)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        try await client.withConnection { connection in try await body(Session(connection: connection, logger: logger)) }
    }

    public func tokenKey() async throws -> SymmetricKey {
        let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { [UInt8]($0) }
        let value = try await transaction(durable: true) { sql in
            try await sql.run("INSERT INTO server_secret (name, value) VALUES ('token_key', ?) ON CONFLICT DO NOTHING",
                              [.blob(fresh)])
            return try await sql.row("SELECT value FROM server_secret WHERE name = 'token_key'")?.blob("value") ?? fresh
        }
        return SymmetricKey(data: value)
    }

    public func close() async {
        running.cancel()
        _ = await running.value
    }

    struct Session: AccountSQL {
        let connection: PostgresConnection
        let logger: Logger

        func rows(_ sql: String, _ args: [SQLValue]) async throws -> [SQLRow] {
            let answer = try await connection.query(Self.query(sql, args), logger: logger)
            var rows: [SQLRow] = []
            for try await row in answer {
                var columns: [String: SQLValue] = [:]
                for cell in row { columns[cell.columnName] = try Self.value(cell) }
                rows.append(SQLRow(columns: columns))
            }
            return rows
        }

        func run(_ sql: String, _ args: [SQLValue]) async throws {
            _ = try await rows(sql, args)
        }

        func lock(_ name: String) async throws {
            try await run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [.text(name)])
        }

        /// `?` placeholders become `$1`, `$2`, … (no statement of the store has a `?` in a literal).
        static func query(_ sql: String, _ args: [SQLValue]) throws -> PostgresQuery {
            var text = ""
            var n = 0
            for ch in sql {
                if ch == "?" {
                    n += 1
                    text += "$\(n)"
                } else {
                    text.append(ch)
                }
            }
            var binds = PostgresBindings(capacity: args.count)
            for a in args {
                switch a {
                case .null: binds.appendNull()
                case .int(let v): binds.append(v)
                case .text(let v): binds.append(v)
                case .blob(let v): binds.append(ByteBuffer(bytes: v))
                }
            }
            return PostgresQuery(unsafeSQL: text, binds: binds)
        }

        static func value(_ cell: PostgresCell) throws -> SQLValue {
            guard cell.bytes != nil else { return .null }
            switch cell.dataType {
            case .int2, .int4, .int8: return .int(try cell.decode(Int64.self))
            case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
            case .bytea: return .blob(Array(buffer: try cell.decode(ByteBuffer.self)))
            default: return .text(try cell.decode(String.self))
            }
        }
    }
}

/// `postgres://` URLs.
enum PostgresURL {
    /// What a URL names: the server, the account, the database and the TLS mode.
    struct Parts {
        var host: String
        var port: Int
        var user: String
        var password: String?
        var database: String?
        /// `disable`, `prefer` or `require` (the default).
        var tls: String
    }

    static func parts(_ url: String) throws -> Parts {
        guard let c = URLComponents(string: url), c.scheme == "postgres" || c.scheme == "postgresql",
              let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty
        else { throw ConfigError(L10n.t(.srvBadDatabaseURL)) }
        let database = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        // Only `sslmode` is understood: a password or anything else in the query is refused, not ignored.
        guard (c.queryItems ?? []).allSatisfy({ $0.name == "sslmode" }) else { throw ConfigError(L10n.t(.srvBadDatabaseURL)) }
        let mode = c.queryItems?.first { $0.name == "sslmode" }?.value ?? "require"
        guard ["disable", "prefer", "require"].contains(mode) else { throw ConfigError(L10n.t(.srvBadDatabaseURL)) }
        return Parts(host: host, port: c.port ?? 5432, user: user, password: c.password,
                     database: database.isEmpty ? nil : database, tls: mode)
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        let p = try parts(url)
        let tls: PostgresClient.Configuration.TLS = switch p.tls {
        case "disable": .disable
        case "prefer": .prefer(.makeClientConfiguration())
        default: .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: p.host, port: p.port, username: p.user, password: p.password,
                                            database: p.database, tls: tls)
    }

    /// The same URL for one connection of its own (the replica log's).
    static func connectionConfiguration(_ url: String) throws -> PostgresConnection.Configuration {
        let p = try parts(url)
        let tls: PostgresConnection.Configuration.TLS = switch p.tls {
        case "disable": .disable
        case "prefer": .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        return PostgresConnection.Configuration(host: p.host, port: p.port, username: p.user, password: p.password,
                                                database: p.database, tls: tls)
    }

    /// The URL without its password, for messages.
    static func redacted(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return "postgres://…" }
        if c.password != nil { c.password = "***" }
        c.query = nil
        return c.string ?? "postgres://…"
    }
}
