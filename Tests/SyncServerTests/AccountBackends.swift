import Foundation
import Logging
import PostgresNIO
import SyncServer
import SyncTesting
import Testing

/// The account store's backends, for tests parameterised by backend: every such test runs on both.
///
/// PostgreSQL comes from `DAIBAN_TEST_POSTGRES` (a `postgres://` URL of a database the tests may create databases
/// from; `scripts/with-postgres.sh` starts a throwaway one and sets it, and `scripts/test.sh` runs the suite under
/// it). Without it the PostgreSQL cases fail, never pass: a developer without PostgreSQL opts out with
/// `DAIBAN_TEST_SKIP_POSTGRES=1`, and CI never sets that.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    static var enabled: [Backend] {
        ProcessInfo.processInfo.environment["DAIBAN_TEST_SKIP_POSTGRES"] == "1" ? [.sqlite] : allCases
    }
}

/// A fresh, empty account database on one backend: a temporary folder's `accounts.sqlite`, or a new PostgreSQL
/// database dropped by `close`. `instance()` opens one more store on the same database, as a second server would.
final class AccountBackend: Sendable {
    let backend: Backend
    let dir: TemporaryDirectory
    /// The PostgreSQL database's URL.
    let url: String?
    let store: AccountStore
    private let name: String?
    /// How long a test waits for a new database to answer and migrate: the suite creates and migrates dozens at once
    /// while other tests load both cores, and the server's 15 s would then fail tests for the suite's own load.
    static let startTimeout: Duration = .seconds(120)

    private init(backend: Backend, dir: TemporaryDirectory, url: String?, name: String?, store: AccountStore) {
        self.backend = backend
        self.dir = dir
        self.url = url
        self.name = name
        self.store = store
    }

    static func make(_ backend: Backend) async throws -> AccountBackend {
        let dir = try TemporaryDirectory()
        switch backend {
        case .sqlite:
            return AccountBackend(backend: backend, dir: dir, url: nil, name: nil,
                                  store: try AccountStore(path: dir.file("accounts.sqlite")))
        case .postgres:
            let base = try baseURL()
            let name = "daiban_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try await admin(base) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
            let url = Self.url(base, database: name)
            let store = AccountStore(database: try await PostgresAccountDatabase(url: url, maxConnections: 8, startTimeout: AccountBackend.startTimeout))
            return AccountBackend(backend: backend, dir: dir, url: url, name: name, store: store)
        }
    }

    /// Another store on the same database: a second server instance.
    func instance() async throws -> AccountStore {
        switch backend {
        case .sqlite: return try AccountStore(path: dir.file("accounts.sqlite"))
        case .postgres: return AccountStore(database: try await PostgresAccountDatabase(url: url!, maxConnections: 8, startTimeout: AccountBackend.startTimeout))
        }
    }

    /// Closes the store (and the instances passed) and removes the database.
    func close(_ instances: AccountStore...) async throws {
        for s in instances { await s.database.close() }
        await store.database.close()
        if let name {
            try await Self.admin(try Self.baseURL()) {
                try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            }
        }
        dir.cleanup()
    }

    /// Returns once at least `count` sessions of this PostgreSQL database wait for a lock (30 s at most).
    func waitForLockWaits(_ count: Int) async throws {
        for _ in 0..<1_500 {
            let waiting = try await store.database.read { sql in
                try await sql.rows("""
                    SELECT count(*) AS n FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'
                    """, []).first?.int("n") ?? 0
            }
            if waiting >= count { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("fewer than \(count) sessions waited for a lock within 30 s")
    }

    static func baseURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DAIBAN_TEST_POSTGRES"], !url.isEmpty else {
            throw PostgresMissing()
        }
        return url
    }

    struct PostgresMissing: Error, CustomStringConvertible {
        var description: String {
            "PostgreSQL tests need DAIBAN_TEST_POSTGRES=postgres://USER@HOST:PORT/DB (scripts/with-postgres.sh starts a throwaway server and sets it); set DAIBAN_TEST_SKIP_POSTGRES=1 to leave them out on this machine"
        }
    }

    static func url(_ base: String, database: String) -> String {
        var c = URLComponents(string: base)!
        c.path = "/" + database
        return c.string!
    }

    /// Runs `body` on one connection to the base database.
    static func admin(_ base: String, _ body: @escaping @Sendable (PostgresClient) async throws -> Void) async throws {
        var config = try configuration(base)
        config.options.maximumConnections = 1
        let client = PostgresClient(configuration: config)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        let c = URLComponents(string: url)!
        return PostgresClient.Configuration(host: c.host ?? "127.0.0.1", port: c.port ?? 5432, username: c.user ?? "postgres",
                                            password: c.password, database: String(c.path.dropFirst()), tls: .disable)
    }
}
