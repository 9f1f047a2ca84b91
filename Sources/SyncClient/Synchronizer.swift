public import Foundation
public import ReplicaStore
import SyncCore

/// Which part of a sync is running.
public enum SyncPhase: String, Sendable {
    case push, pull
}

/// Progress after each chunk.
public struct SyncProgress: Sendable {
    public var phase: SyncPhase
    public var chunks: Int
    public var bytes: Int
    public var fields: Int
}

/// What one `daiban sync` did.
public struct SyncReport: Sendable {
    public var pushedChunks = 0
    public var pushedBytes = 0
    public var pushedFields = 0
    public var pulledChunks = 0
    public var pulledBytes = 0
    /// Field states the pulled chunks changed here.
    public var pulledApplied = 0
    public var pulledFields = 0
    public var conflictsOpen = 0
    /// Field versions the server refused (field ownership) and kept for the centre's review.
    public var quarantined = 0
    public var retries = 0
    public var seconds = 0.0
}

/// Keys of the client's sync state (stored in the replica, `sync_state`).
public enum SyncStateKey {
    /// Local sequence number up to which the server has every local change.
    public static let pushCursor = "push.cursor"
    /// Server cursor (`Daiban-Next`) up to which this replica has applied the server's changes.
    public static let pullCursor = "pull.cursor"
    /// The server replica the cursors belong to.
    public static let serverReplica = "server.replica"
    /// Unix seconds of the last sync that finished.
    public static let lastSyncAt = "sync.last"
    /// JSON list of `DirectoryEntry` (centre accounts only).
    public static let directory = "directory"
}

/// Push, then pull until done, chunk by chunk; every chunk commits with its cursor, so an interrupted sync
/// resumes where it stopped and re-fetches at most the chunk that was in flight.
public final class Synchronizer {
    let replica: ReplicaDatabase
    let connection: ServerConnection
    var tokens: SessionTokens
    let saveTokens: (SessionTokens) throws -> Void
    /// Retries of one request after a transient failure, with doubling pauses from `baseDelay` seconds.
    public var retries = 4
    public var baseDelay = 0.5
    public var chunkBytes = 256 << 10
    let now: () -> Int64

    public init(replica: ReplicaDatabase, connection: ServerConnection, tokens: SessionTokens,
                saveTokens: @escaping (SessionTokens) throws -> Void,
                now: @escaping () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.replica = replica
        self.connection = connection
        self.tokens = tokens
        self.saveTokens = saveTokens
        self.now = now
    }

    public func run(progress: (SyncProgress) -> Void = { _ in }) async throws -> SyncReport {
        let started = Date()
        var report = SyncReport()
        // One probe first: with no link at all, fail once instead of retrying every request.
        _ = try await connection.health()
        try await push(&report, progress)
        try await pull(&report, progress)
        if tokens.role == "center" {
            let directory = try await request(&report) { [connection] token in try await connection.devices(token: token) }
            let json = String(decoding: try JSONEncoder().encode(directory), as: UTF8.self)
            try replica.setSyncState([SyncStateKey.directory: json])
        }
        try replica.setSyncState([SyncStateKey.lastSyncAt: String(now())])
        report.conflictsOpen = try replica.status().openConflicts
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    private func push(_ report: inout SyncReport, _ progress: (SyncProgress) -> Void) async throws {
        var cursor = UInt64(try replica.syncState(SyncStateKey.pushCursor) ?? "0") ?? 0
        var exporter = ChunkedExporter(targetBytes: chunkBytes)
        // Only township and centre devices relay writes they imported from other replicas' bundles.
        let filter: WriterFilter = ["township", "center"].contains(tokens.role) ? .all : .only(replica.id)
        var chunk = try exporter.next(from: replica, after: cursor, filter: filter)
        while true {
            // Read the following chunk while this one travels: reads see a snapshot, and the cursor only moves
            // once the server has acknowledged.
            let prefetch: Task<(ChangeChunk, ChunkedExporter), any Error>? = !chunk.more ? nil :
                Task.detached { [replica, exporter, after = chunk.next] in
                    var e = exporter
                    let c = try e.next(from: replica, after: after, filter: filter)
                    return (c, e)
                }
            if !chunk.changeSet.rows.isEmpty {
                do {
                    let bytes = chunk.bytes
                    let ack = try await request(&report) { [connection] token in try await connection.push(bytes, token: token) }
                    report.quarantined += ack.quarantined
                } catch {
                    prefetch?.cancel()
                    throw error
                }
                report.pushedChunks += 1
                report.pushedBytes += chunk.bytes.count
                report.pushedFields += chunk.changeSet.fieldCount
                progress(SyncProgress(phase: .push, chunks: report.pushedChunks, bytes: report.pushedBytes,
                                      fields: report.pushedFields))
            }
            cursor = chunk.next
            try replica.setSyncState([SyncStateKey.pushCursor: String(cursor)])
            guard let prefetch else { return }
            (chunk, exporter) = try await prefetch.value
        }
    }

    private func pull(_ report: inout SyncReport, _ progress: (SyncProgress) -> Void) async throws {
        var cursor = UInt64(try replica.syncState(SyncStateKey.pullCursor) ?? "0") ?? 0
        var knownServer = try replica.syncState(SyncStateKey.serverReplica)
        // One request at a time: a crash then costs at most the chunk in flight (no prefetched chunk is lost).
        while true {
            let chunk: PulledChunk
            do {
                let after = cursor
                chunk = try await request(&report) { [connection] token in
                    try await connection.pull(after: after, token: token)
                }
            } catch let e as SyncClientError where e.code == "cursor_ahead" && cursor > 0 {
                // The server's data was replaced: start over from its beginning and push everything again.
                try resetCursors()
                try await push(&report, progress)
                cursor = 0
                knownServer = nil
                continue
            }
            if let known = knownServer, known != chunk.serverReplica {
                // A different server, or the same one restored from a backup (a new epoch): its cursors mean
                // something else and it may lack what it once acknowledged.
                knownServer = chunk.serverReplica
                try resetCursors()
                try await push(&report, progress)
                cursor = 0
                continue
            }
            knownServer = chunk.serverReplica
            var options = ImportOptions()
            let next = chunk.next
            let server = chunk.serverReplica
            options.inTransaction = { state in
                try state.set(SyncStateKey.pullCursor, String(next))
                try state.set(SyncStateKey.serverReplica, server)
                // What this import stored came from the server: it need not be pushed back.
                if UInt64(try state.get(SyncStateKey.pushCursor) ?? "0") == state.seqBefore {
                    try state.set(SyncStateKey.pushCursor, String(state.seqAfter))
                }
            }
            let r = try replica.importBundle(chunk.bytes, options: options)
            cursor = next
            report.pulledChunks += 1
            report.pulledBytes += chunk.bytes.count
            report.pulledApplied += r.applied
            report.pulledFields += r.applied + r.ignored
            progress(SyncProgress(phase: .pull, chunks: report.pulledChunks, bytes: report.pulledBytes,
                                  fields: report.pulledFields))
            if !chunk.more { return }
        }
    }

    private func resetCursors() throws {
        try replica.setSyncState([SyncStateKey.pullCursor: "0", SyncStateKey.pushCursor: "0"])
    }

    /// Runs one request outside a sync (with the same token refresh and retries).
    public func authorized<T>(_ op: (String) async throws -> T) async throws -> T {
        var report = SyncReport()
        return try await request(&report, op)
    }

    /// Runs one request with a fresh access token, refreshing once on expiry and retrying transient failures.
    private func request<T>(_ report: inout SyncReport, _ op: (String) async throws -> T) async throws -> T {
        var attempt = 0
        var refreshed = false
        while true {
            do {
                if tokens.accessExpiresAt - 30 <= now() {
                    try await refreshTokens()
                    refreshed = true
                }
                return try await op(tokens.accessToken)
            } catch let e as SyncClientError where (e.code == "token_expired" || e.code == "invalid_token") && !refreshed {
                try await refreshTokens()
                refreshed = true
            } catch let e as SyncClientError where e.isTransient && attempt < retries {
                var wait = baseDelay * Double(1 << attempt) * Double.random(in: 0.8...1.2)
                if case .server(_, _, _, let retryAfter?) = e { wait = max(wait, Double(min(retryAfter, 60))) }
                attempt += 1
                report.retries += 1
                try await Task.sleep(nanoseconds: UInt64(min(wait, 30) * 1e9))
            }
        }
    }

    private func refreshTokens() async throws {
        tokens = try await connection.refresh(tokens.refreshToken)
        try saveTokens(tokens)
    }
}
