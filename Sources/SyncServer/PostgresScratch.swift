import Foundation
import Logging
import TerminalText
import PostgresNIO

/// A database made for one run on a PostgreSQL server (the load test's), dropped by `drop`.
public final class PostgresScratch: Sendable {
    /// The new database's URL.
    public let url: String
    private let admin: String
    private let name: String

    private init(url: String, admin: String, name: String) {
        self.url = url
        self.admin = admin
        self.name = name
    }

    /// Creates database `name` (letters, digits and `_`) on the server of `admin`, a URL of a database there.
    public static func create(on admin: String, name: String) async throws -> PostgresScratch {
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), var c = URLComponents(string: admin)
        else { throw ConfigError(L10n.t(.srvBadDatabaseURL)) }
        try await run(admin, "CREATE DATABASE \(name)")
        c.path = "/" + name
        return PostgresScratch(url: c.string!, admin: admin, name: name)
    }

    /// Drops the database (closing its other sessions); a failure is only reported on stderr.
    public func drop() async {
        do { try await Self.run(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") } catch {
            FileHandle.standardError.write(Data("could not drop the database \(name): \(error)\n".utf8))
        }
    }

    /// Runs one statement on the database at `url` (the campaigns' planted defects).
    public static func execute(on url: String, _ sql: String) async throws { try await run(url, sql) }

    private static func run(_ url: String, _ sql: String) async throws {
        var configuration = try PostgresURL.configuration(url)
        configuration.options.maximumConnections = 1
        let client = PostgresClient(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: sql))
        }
    }
}
