import Foundation
import Logging
import PostgresNIO

/// The stamping and chunk reading of a PostgreSQL store shared by several server instances: the part of the
/// PostgreSQL replica that keeps SPEC §12.7's rule. A pull's `next` never passes a stamp whose transaction commits
/// later. The server's replica on PostgreSQL (`PostgresReplicaLog`) keeps the same rule for whole write
/// transactions; this type is the rule reduced to the stamps, with its adversarial test.
///
/// **Mechanism: stamping serialised with commit.** A transaction takes its stamps as its last step before
/// commit, by `UPDATE stamp_counter SET seq = seq + n … RETURNING seq`. That row lock is held until commit, so a
/// second transaction's stamps wait until the first has committed: stamps become visible in stamp order, as under
/// SQLite's single writer lock. A chunk reads the counter and the stamped changes from one `REPEATABLE READ`
/// snapshot, and the counter it reads is a committed one, so every stamp up to it is already visible. The work
/// before the stamps (decoding, judging, merging) runs in parallel on every instance; only the stamping waits.
///
/// `Mechanism.sequence` is the tempting alternative: a PostgreSQL sequence, which hands out numbers without
/// waiting for commits. It skips changes, and the tests keep it to show that they catch it.
public struct PostgresStamps: Sendable {
    public enum Mechanism: Sendable {
        /// The counter row, locked from the stamps to commit.
        case serialised
        /// `nextval`: wrong, kept as the planted defect of the no-skip test.
        case sequence
    }

    /// One stamped change: its stamp, the writer that sent it, and the writer's own number for it.
    public struct Change: Sendable, Hashable {
        public var seq: UInt64
        public var writer: String
        public var number: Int64
    }

    /// A chunk of a pull: the changes stamped in `(after, next]`, and whether more were committed by then.
    public struct Chunk: Sendable {
        public var changes: [Change]
        public var next: UInt64
        public var more: Bool
    }

    /// Test hooks: pauses inside the apply transaction, before the stamps and between the stamps and commit, and
    /// a call made while the transaction holds its stamps (the commit waits for it to return).
    public struct Pauses: Sendable {
        public var beforeStamps: Duration = .zero
        public var beforeCommit: Duration = .zero
        public var holdingStamps: (@Sendable () async -> Void)?
        public init(beforeStamps: Duration = .zero, beforeCommit: Duration = .zero,
                    holdingStamps: (@Sendable () async -> Void)? = nil) {
            self.beforeStamps = beforeStamps
            self.beforeCommit = beforeCommit
            self.holdingStamps = holdingStamps
        }
    }

    let client: PostgresClient
    let mechanism: Mechanism
    let logger: Logger

    /// Uses the accounts database's pool; creates the tables when missing.
    public init(_ database: PostgresAccountDatabase, mechanism: Mechanism = .serialised) async throws {
        client = database.client
        self.mechanism = mechanism
        logger = Logger(label: "daiban.stamps")
        try await client.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(7263540143)", logger: logger)
            try await c.query("CREATE TABLE IF NOT EXISTS stamp_counter (id int PRIMARY KEY, seq bigint NOT NULL)", logger: logger)
            try await c.query("INSERT INTO stamp_counter VALUES (1, 0) ON CONFLICT DO NOTHING", logger: logger)
            try await c.query("CREATE SEQUENCE IF NOT EXISTS stamp_sequence", logger: logger)
            try await c.query("""
                CREATE TABLE IF NOT EXISTS stamped_change (seq bigint PRIMARY KEY, writer text NOT NULL, number bigint NOT NULL,
                                                           UNIQUE (writer, number))
                """, logger: logger)
        }
    }

    /// Stamps and stores `numbers` of `writer` in one transaction. A number already stored is not stored again
    /// (a retried push, on whichever instance it lands, applies nothing twice).
    /// - Returns: the stamps given, in order (none for numbers already stored).
    @discardableResult
    public func apply(writer: String, numbers: [Int64], pauses: Pauses = Pauses()) async throws -> [UInt64] {
        let mechanism = mechanism
        let logger = logger
        return try await client.withTransaction(logger: logger) { c -> [UInt64] in
            // The work before the stamps (decoding, judging, merging) runs here, in parallel with other pushes.
            if pauses.beforeStamps > .zero { try await Task.sleep(for: pauses.beforeStamps) }
            if mechanism == .serialised {
                // From here to commit this transaction holds the counter row: which numbers are new is decided under
                // it, so a retry landing on another instance at the same moment waits, then finds them stored.
                try await c.query("SELECT seq FROM stamp_counter WHERE id = 1 FOR UPDATE", logger: logger)
            }
            var fresh: [Int64] = []
            for n in numbers {
                let known = try await c.query("SELECT 1 FROM stamped_change WHERE writer = \(writer) AND number = \(n)", logger: logger)
                    .collect()
                if known.isEmpty { fresh.append(n) }
            }
            guard !fresh.isEmpty else { return [] }
            var stamps: [UInt64] = []
            switch mechanism {
            case .serialised:
                let count = Int64(fresh.count)
                let rows = try await c.query("UPDATE stamp_counter SET seq = seq + \(count) WHERE id = 1 RETURNING seq", logger: logger)
                var last: Int64 = 0
                for try await s in rows.decode(Int64.self) { last = s }
                stamps = (0..<fresh.count).map { UInt64(last - count + 1 + Int64($0)) }
            case .sequence:
                for _ in fresh {
                    for try await s in try await c.query("SELECT nextval('stamp_sequence')", logger: logger).decode(Int64.self) {
                        stamps.append(UInt64(s))
                    }
                }
            }
            for (n, s) in zip(fresh, stamps) {
                let seq = Int64(s)
                try await c.query("INSERT INTO stamped_change (seq, writer, number) VALUES (\(seq), \(writer), \(n))", logger: logger)
            }
            if pauses.beforeCommit > .zero { try await Task.sleep(for: pauses.beforeCommit) }
            await pauses.holdingStamps?()
            return stamps
        }
    }

    /// The changes stamped after `after`, at most `limit`, read from one snapshot.
    public func chunk(after: UInt64, limit: Int) async throws -> Chunk {
        let limit = max(1, limit)
        let mechanism = mechanism
        let logger = logger
        return try await client.withConnection { c -> Chunk in
            try await c.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let top: Int64
                switch mechanism {
                case .serialised:
                    top = try await Self.one(c, "SELECT seq FROM stamp_counter WHERE id = 1", logger)
                case .sequence:
                    top = try await Self.one(c, "SELECT coalesce(max(seq), 0) FROM stamped_change", logger)
                }
                let from = Int64(clamping: after), cap = Int64(limit)
                var changes: [Change] = []
                let rows = try await c.query("""
                    SELECT seq, writer, number FROM stamped_change WHERE seq > \(from) AND seq <= \(top) ORDER BY seq LIMIT \(cap)
                    """, logger: logger)
                for try await (seq, writer, number) in rows.decode((Int64, String, Int64).self) {
                    changes.append(Change(seq: UInt64(seq), writer: writer, number: number))
                }
                try await c.query("COMMIT", logger: logger)
                let full = changes.count == limit
                let next = full ? changes.last!.seq : UInt64(max(top, from))
                return Chunk(changes: changes, next: next, more: full && next < UInt64(top))
            } catch {
                _ = try? await c.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    static func one(_ c: PostgresConnection, _ sql: PostgresQuery, _ logger: Logger) async throws -> Int64 {
        for try await v in try await c.query(sql, logger: logger).decode(Int64.self) { return v }
        return 0
    }
}
