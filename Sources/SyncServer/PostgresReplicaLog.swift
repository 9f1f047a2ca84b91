import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
public import ReplicaStore
public import SyncCore

/// The replica log in PostgreSQL: how several `daiban-server` instances on one database keep one replica.
///
/// `replica_log_head` holds the position of the last entry, the shared replica's id and the layout of its copies;
/// `replica_log` holds the entries (one write transaction's changeset each). Both come from the store's versioned
/// migrations (`replica-log-v1`).
///
/// **Mechanism: the write turn is the head row.** `beginWrite` opens a transaction on this instance's write
/// connection and locks the head row (`SELECT … FOR UPDATE`); the entry and the new head commit together in
/// `append`, which ends the turn. A second instance's turn waits for that commit, so entries commit in position
/// order, as stamps do under SQLite's single writer. A reader reads the committed head, then the entries up to it:
/// every one of them is already committed, and none can commit later with a smaller position. So a copy never
/// skips an entry, and a pull served from a caught-up copy never passes a change that commits later with a smaller
/// sequence number (SPEC §12.7).
///
/// The work of a push (decoding, the checks, the merge) runs inside the turn, on the copy that holds it: writes are
/// serialised across instances as they are within one SQLite file; reads (pulls, the bulk of a county's traffic)
/// run on every instance's own copy in parallel.
///
/// Blocking: each call waits for PostgreSQL on the calling thread (SQLite's work is synchronous). Never call it on
/// an event-loop thread.
public final class PostgresReplicaLog: ReplicaLog, @unchecked Sendable {
    /// The shared replica's id (every copy has it).
    public let replica: ReplicaID
    /// The layout every copy must have (`ReplicaDatabase.layoutSignature`).
    public let layout: String
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    /// How long a write waits for the turn before it fails.
    private let turnTimeoutSeconds: Int
    private let writeLock = NSLock()
    private var writer: PostgresConnection?
    /// Whether the write connection has the turn's transaction open.
    private var inTurn = false
    /// One turn at a time on this instance: held from `beginWrite` until the turn ends.
    private let gate = DispatchSemaphore(value: 1)
    private let readLock = NSLock()
    private var reader: PostgresConnection?
    /// Entries per page read, and the bytes after which a page stops (a page holds at least one entry).
    static let pageEntries = 32
    static let pageBytes = 32 << 20

    /// Connects to the log of the database at `url` (already migrated: `PostgresAccountDatabase` runs the
    /// migrations), starting it when it is empty with a new replica id and `layout`.
    /// - Parameter layout: this build's layout of a replica copy; a log started by a build with another layout is
    ///   refused.
    public init(url: String, layout: String, turnTimeoutSeconds: Int = 60,
                logger: Logger = Logger(label: "daiban.replica-log")) throws {
        configuration = try PostgresURL.connectionConfiguration(url)
        self.logger = logger
        self.turnTimeoutSeconds = turnTimeoutSeconds
        let connection = try Self.connect(configuration, logger: logger)
        defer { _ = try? connection.close().wait() }
        let fresh = ReplicaID.random()
        _ = try connection.query("BEGIN", logger: logger).wait()
        do {
            _ = try connection.query("SELECT pg_advisory_xact_lock(7263540144)", logger: logger).wait()
            _ = try connection.query("""
                INSERT INTO replica_log_head (id, position, replica, layout) VALUES (1, 0, \(ByteBuffer(bytes: fresh.bytes)), \(layout))
                ON CONFLICT (id) DO NOTHING
                """, logger: logger).wait()
            let rows = try connection.query("SELECT replica, layout FROM replica_log_head WHERE id = 1", logger: logger).wait()
            guard let row = rows.first else { throw ReplicaLogMismatch("the replica log has no head row") }
            let (id, stored) = try row.decode((ByteBuffer, String).self)
            _ = try connection.query("COMMIT", logger: logger).wait()
            replica = ReplicaID(bytes: Array(buffer: id))
            self.layout = stored
        } catch {
            _ = try? connection.query("ROLLBACK", logger: logger).wait()
            throw error
        }
    }

    public func beginWrite() throws -> Int64 {
        gate.wait()
        writeLock.lock()
        defer { writeLock.unlock() }
        do {
            let c = try writeConnection()
            _ = try c.query("BEGIN", logger: logger).wait()
            inTurn = true
            let rows = try c.query("SELECT position FROM replica_log_head WHERE id = 1 FOR UPDATE", logger: logger).wait()
            guard let head = try rows.first?.decode(Int64.self) else { throw ReplicaLogMismatch("the replica log has no head row") }
            return head
        } catch {
            dropWriter()
            gate.signal()
            throw error
        }
    }

    public func append(_ changes: [UInt8], at position: Int64, chain: [UInt8]) throws {
        writeLock.lock()
        defer { writeLock.unlock() }
        guard inTurn, let c = writer else { throw ReplicaLogMismatch("an entry was appended outside the write turn") }
        do {
            _ = try c.query("""
                INSERT INTO replica_log (position, changes, chain) VALUES (\(position), \(ByteBuffer(bytes: changes)), \(ByteBuffer(bytes: chain)))
                """, logger: logger).wait()
            _ = try c.query("UPDATE replica_log_head SET position = \(position) WHERE id = 1", logger: logger).wait()
            _ = try c.query("COMMIT", logger: logger).wait()
            inTurn = false
            gate.signal()
        } catch {
            // Whether the commit happened is unknown when the connection broke: the copy rolls back, and its next
            // catch-up applies the entry if it is there.
            dropWriter()
            throw error
        }
    }

    /// Ends a turn that appended nothing (or whose append failed).
    public func endWrite() {
        writeLock.lock()
        defer { writeLock.unlock() }
        if inTurn {
            inTurn = false
            if let c = writer, (try? c.query("ROLLBACK", logger: logger).wait()) == nil { dropWriter() }
        }
        gate.signal()
    }

    public func head() throws -> Int64 {
        try reading { c in
            let rows = try c.query("SELECT position FROM replica_log_head WHERE id = 1", logger: logger).wait()
            guard let head = try rows.first?.decode(Int64.self) else { throw ReplicaLogMismatch("the replica log has no head row") }
            return head
        }
    }

    public func entries(after position: Int64, upTo head: Int64) throws -> [ReplicaLogEntry] {
        try reading { c in
            let limit = Int64(Self.pageEntries), bytes = Int64(Self.pageBytes)
            // A page stops once its entries pass `pageBytes` (the first one always comes): a rebuilding copy holds
            // one page in memory, whatever the entries' sizes.
            let rows = try c.query("""
                SELECT position, changes, chain FROM (
                    SELECT position, changes, chain, sum(octet_length(changes)) OVER (ORDER BY position) AS total
                    FROM replica_log WHERE position > \(position) AND position <= \(head) ORDER BY position LIMIT \(limit)
                ) page WHERE total - octet_length(changes) < \(bytes) ORDER BY position
                """, logger: logger).wait()
            return try rows.map { row in
                let (p, bytes, chain) = try row.decode((Int64, ByteBuffer, ByteBuffer).self)
                return ReplicaLogEntry(position: p, changes: Array(buffer: bytes), chain: Array(buffer: chain))
            }
        }
    }

    deinit {
        // Closed without waiting (the last reference may go on any thread); each connection is held until it is.
        for c in [writer, reader].compactMap({ $0 }) {
            let closing: EventLoopFuture<Void> = c.close()
            closing.whenComplete { _ in withExtendedLifetime(c) {} }
        }
    }

    /// The chain of entry `position` (nil when there is none).
    public func chain(at position: Int64) throws -> [UInt8]? {
        try reading { c in
            let rows = try c.query("SELECT chain FROM replica_log WHERE position = \(position)", logger: logger).wait()
            return try rows.first.map { Array(buffer: try $0.decode(ByteBuffer.self)) }
        }
    }

    /// Closes the connections.
    public func close() {
        writeLock.withLock { dropWriter() }
        readLock.withLock {
            if let r = reader { _ = try? r.close().wait() }
            reader = nil
        }
    }

    // MARK: Connections

    private func writeConnection() throws -> PostgresConnection {
        if let w = writer, !w.isClosed { return w }
        let c = try Self.connect(configuration, logger: logger)
        // A turn held longer than this by another instance fails this write instead of waiting for ever; a turn whose
        // holder stops answering (partitioned, stopped) is ended by PostgreSQL after the idle timeout.
        _ = try c.query(PostgresQuery(unsafeSQL: "SET lock_timeout = '\(turnTimeoutSeconds)s'"), logger: logger).wait()
        _ = try c.query(PostgresQuery(unsafeSQL: "SET idle_in_transaction_session_timeout = '\(turnTimeoutSeconds)s'"),
                        logger: logger).wait()
        try Self.keepAlive(c, logger)
        writer = c
        return c
    }

    private func dropWriter() {
        if let w = writer { _ = try? w.close().wait() }
        writer = nil
        inTurn = false
    }

    private func reading<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        readLock.lock()
        defer { readLock.unlock() }
        do {
            if reader == nil || reader!.isClosed {
                let c = try Self.connect(configuration, logger: logger)
                _ = try c.query(PostgresQuery(unsafeSQL: "SET statement_timeout = '\(turnTimeoutSeconds)s'"), logger: logger).wait()
                try Self.keepAlive(c, logger)
                reader = c
            }
            return try body(reader!)
        } catch {
            if let r = reader { _ = try? r.close().wait() }
            reader = nil
            throw error
        }
    }

    /// TCP keepalives from the database's side: a connection to a vanished instance is noticed within a minute.
    private static func keepAlive(_ c: PostgresConnection, _ logger: Logger) throws {
        for setting in ["tcp_keepalives_idle = 20", "tcp_keepalives_interval = 10", "tcp_keepalives_count = 3"] {
            _ = try c.query(PostgresQuery(unsafeSQL: "SET " + setting), logger: logger).wait()
        }
    }

    private static func connect(_ configuration: PostgresConnection.Configuration, logger: Logger) throws -> PostgresConnection {
        try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                       id: 0, logger: logger).wait()
    }
}
