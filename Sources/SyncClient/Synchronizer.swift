public import Foundation
public import ReplicaStore
public import SyncCore
import SyncContract
import SyncProtocol

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
    /// Versions the server refused (kept here: `daiban rejected list`), by reason.
    public var refused: [String: Int] = [:]
    /// Other devices' bundles forwarded to the server (relays).
    public var relayedBundles = 0
    /// Rows removed because their case left this device's scope, and exits waiting for local changes to travel.
    public var purgedRows = 0
    public var deferredExits = 0
    /// Own writes stamped in the future, written again after the clock was corrected.
    public var restamped = 0
    /// This device's clock minus the server's, in seconds, when the server told its time.
    public var clockSkewSeconds: Double?
    public var retries = 0
    public var seconds = 0.0
    /// Of `seconds`: the push (with its relays), and the pull with the scope exits.
    public var pushSeconds = 0.0
    public var pullSeconds = 0.0

    /// Versions refused in all.
    public var quarantined: Int { refused.values.reduce(0, +) }
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
    /// This device's clock minus the server's at the last sync (milliseconds).
    public static let clockSkewMillis = "sync.skew_ms"
    /// The server's clock at the last sync (Unix milliseconds).
    public static let serverTimeSeen = "sync.server_time"
    /// JSON list of `DirectoryEntry` (centre accounts only).
    public static let directory = "directory"
    /// The last scope-exit event this replica has acted on.
    public static let scopeCursor = "scope.cursor"
    /// "1" once this replica removed rows that left its scope: its pulls then ask for its own versions too.
    public static let purged = "scope.purged"
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
    /// The largest push chunk, compressed.
    public var chunkBytes = 256 << 10
    /// Chunks are sized so that one takes about this long at the rate the link has shown (at least
    /// `minimumChunkBytes`, at most `chunkBytes` for a push and the server's size for a pull): on a link that is
    /// cut now and then, a cut costs at most one such chunk, and a chunk fits between cuts.
    public var chunkSeconds = 8.0
    public var minimumChunkBytes = 16 << 10
    /// Bytes per second each way, as the last exchange of a chunk showed (nil before the first).
    var upRate: Double?
    var downRate: Double?
    /// The rows a device holds of a case (or project, enterprise) that left its scope: the domain says which
    /// (`ReadScope.rowsOfCase`); without it exits are not acted on.
    public var rowsOfExit: ((ReplicaDatabase, _ table: String, _ key: String) throws -> [(table: String, key: String)])?
    /// How far ahead of the server's clock a write may be stamped before the server refuses it.
    public var maxClockAheadMillis: UInt64 = 300_000
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
        let (_, serverTime) = try await connection.health()
        if let serverTime {
            let skew = (Double(replica.now()) - Double(serverTime)) / 1000
            report.clockSkewSeconds = skew
            // Kept for `daiban doctor`, which judges the clock offline against the last server time seen.
            try replica.setSyncState([SyncStateKey.clockSkewMillis: String(Int64((skew * 1000).rounded())),
                                      SyncStateKey.serverTimeSeen: String(serverTime)])
            // Writes refused for a clock that ran ahead travel again once this clock agrees with the server's.
            if skew < Double(maxClockAheadMillis) / 2000, try replica.refusals().contains(where: { $0.reason == "clock_ahead" }) {
                report.restamped = try replica.restampFuture(after: serverTime &+ maxClockAheadMillis / 2)
            }
        }
        try await ensureKey(&report)
        let pushStarted = Date()
        try await relay(&report)
        try await push(&report, progress)
        let pullStarted = Date()
        report.pushSeconds = pullStarted.timeIntervalSince(pushStarted)
        try await pull(&report, progress)
        try await scopeExits(&report)
        report.pullSeconds = Date().timeIntervalSince(pullStarted)
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

    /// Registers this device's signing key with the server when the session says it has none.
    private func ensureKey(_ report: inout SyncReport) async throws {
        guard tokens.keyRegistered != true, let signer = replica.signer else { return }
        let seq = try replica.currentSeq()
        let proof = signer.sign(DeviceKeyRequest.rotationMessage(device: tokens.deviceID, newKey: signer.publicKey, seq: seq))
        try await request(&report) { [connection] token in
            try await connection.setDeviceKey(signer.publicKey, proof: proof, seq: seq, token: token)
        }
        tokens.keyRegistered = true
        try saveTokens(tokens)
    }

    /// Forwards the bundles of other devices this replica imported, as they were signed (township and centre
    /// devices); other roles drop them (their writers deliver them themselves).
    private func relay(_ report: inout SyncReport) async throws {
        let outbox = try replica.relayOutbox()
        guard !outbox.isEmpty else { return }
        guard ["township", "center"].contains(tokens.role) else {
            try replica.dropFromOutbox(outbox.map(\.id))
            return
        }
        for item in outbox {
            let bytes = item.bytes
            let ack = try await request(&report) { [connection] token in try await connection.relay(bytes, token: token) }
            try record(ack, &report)
            try replica.dropFromOutbox([item.id])
            report.relayedBundles += 1
        }
    }

    /// Keeps the refusals of a push answer, with the server's state of those fields.
    private func record(_ ack: PushAck, _ report: inout SyncReport) throws {
        guard !ack.rejected.isEmpty else { return }
        for r in ack.rejected { report.refused[r.reason, default: 0] += 1 }
        let current = try ack.current.flatMap { Data(base64Encoded: $0) }.map { try ChangeSetReader.decode([UInt8]($0)) }
        try replica.recordRefusals(ack.rejected.compactMap { r in
            ReplicaID(hex: r.writer).map {
                RefusedVersion(table: r.table, key: r.key, field: r.field, writer: $0, hlc: HLCTimestamp(rawValue: r.hlc),
                               reason: r.reason, message: r.message)
            }
        }, current: current)
    }

    /// Removes what left this device's scope, once this device's own changes to it have reached the server.
    private func scopeExits(_ report: inout SyncReport) async throws {
        guard let rowsOfExit else { return }
        var cursor = Int64(try replica.syncState(SyncStateKey.scopeCursor) ?? "0") ?? 0
        let pushed = UInt64(try replica.syncState(SyncStateKey.pushCursor) ?? "0") ?? 0
        while true {
            let after = cursor
            let answer = try await request(&report) { [connection] token in try await connection.scopeExits(after: after, token: token) }
            var next = answer.next
            for e in answer.exits {
                let rows = try rowsOfExit(replica, e.table, e.key)
                if try replica.pendingChanges(rows: rows, after: pushed) > 0 {
                    // Typed here and not yet delivered: keep the case until the next sync delivers it.
                    report.deferredExits += 1
                    next = min(next, e.id - 1)
                    break
                }
                let n = try replica.purge(rows: rows)
                if n > 0 { try replica.setSyncState([SyncStateKey.purged: "1"]) }
                report.purgedRows += n
            }
            try replica.setSyncState([SyncStateKey.scopeCursor: String(next)])
            if next == cursor || report.deferredExits > 0 || answer.exits.isEmpty { return }
            cursor = next
        }
    }

    private func push(_ report: inout SyncReport, _ progress: (SyncProgress) -> Void) async throws {
        var cursor = UInt64(try replica.syncState(SyncStateKey.pushCursor) ?? "0") ?? 0
        var exporter = ChunkedExporter(targetBytes: chunkBytes)
        // Only this replica's own writes: other devices' writes reach the server in their own signed bundles
        // (relayed above), and those the server already holds need not travel back.
        let filter: WriterFilter = .only(replica.id)
        exporter.targetBytes = pushTarget()
        var chunk = try exporter.next(from: replica, after: cursor, filter: filter)
        /// Reads the chunk after `chunk` while `chunk` travels: reads see a snapshot, and the cursor only moves
        /// once the server has acknowledged. Its size follows the rate the link showed so far.
        func prefetching(_ chunk: ChangeChunk, _ exporter: inout ChunkedExporter) -> Task<(ChangeChunk, ChunkedExporter), any Error>? {
            exporter.targetBytes = pushTarget()
            guard chunk.more else { return nil }
            return Task.detached { [replica, exporter, after = chunk.next] in
                var e = exporter
                let c = try e.next(from: replica, after: after, filter: filter)
                return (c, e)
            }
        }
        while true {
            var prefetch = prefetching(chunk, &exporter)
            if !chunk.changeSet.rows.isEmpty {
                do {
                    let ack = try await measured(&report, bytes: { _ in chunk.bytes.count }, rate: \.upRate, onRetry: {
                        // The link failed with this chunk in flight: the next try sends a smaller one from the same
                        // place (one that may fit between cuts); the server ignores what it already has.
                        prefetch?.cancel()
                        self.upRate = self.halved(self.upRate)
                        exporter.targetBytes = self.pushTarget()
                        chunk = try exporter.next(from: replica, after: cursor, filter: filter)
                        prefetch = prefetching(chunk, &exporter)
                    }) { [connection] token in
                        try await connection.push(chunk.bytes, token: token)
                    }
                    try record(ack, &report)
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
        let includeOwn = try replica.syncState(SyncStateKey.purged) == "1"
        // On a slow link, one request at a time: a crash then costs at most the chunk in flight. On a link that
        // carries whole chunks of the server's size, the next chunk is fetched while this one is applied (the
        // server exports as the client imports); a crash then costs that chunk too, which such a link fetches
        // again at once. A prefetch that fails is simply asked for again, with the retries of any request.
        var prefetched: Task<(PulledChunk, TimeInterval), any Error>?
        defer { prefetched?.cancel() }
        while true {
            let chunk: PulledChunk
            do {
                if let ahead = prefetched,
                   let (c, seconds) = try? await withTaskCancellationHandler(operation: { try await ahead.value },
                                                                             onCancel: { ahead.cancel() }) {
                    prefetched = nil
                    chunk = c
                    // Timed like any request, so that a link that slows down stops being prefetched from.
                    if c.bytes.count >= 4096 { downRate = Double(c.bytes.count) / max(0.001, seconds) }
                } else {
                    prefetched = nil
                    let after = cursor
                    var maxBytes = pullLimit()
                    chunk = try await measured(&report, bytes: { $0.bytes.count }, rate: \.downRate, onRetry: {
                        self.downRate = self.halved(self.downRate)
                        maxBytes = self.pullLimit()
                    }) { [connection] token in
                        try await connection.pull(after: after, token: token, includeOwn: includeOwn, maxBytes: maxBytes)
                    }
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
            if chunk.more, pullLimit() == nil, tokens.accessExpiresAt - 30 > now() {
                let (after, token) = (chunk.next, tokens.accessToken)
                prefetched = Task { [connection] in
                    let t0 = Date()
                    let c = try await connection.pull(after: after, token: token, includeOwn: includeOwn, maxBytes: nil)
                    return (c, Date().timeIntervalSince(t0))
                }
            }
            var options = ImportOptions()
            options.trusted = true
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

    /// The push chunk size for the rate seen so far: 64 KiB before any measure.
    func pushTarget() -> Int {
        guard let rate = upRate ?? downRate else { return min(chunkBytes, max(minimumChunkBytes, 64 << 10)) }
        return min(chunkBytes, max(minimumChunkBytes, Int(rate * chunkSeconds)))
    }

    /// The pull chunk size to ask for: none (the server's) once the link carries 1 MiB in `chunkSeconds`.
    func pullLimit() -> Int? {
        guard let rate = downRate ?? upRate else { return 64 << 10 }
        let n = Int(rate * chunkSeconds)
        return n >= 1 << 20 ? nil : max(minimumChunkBytes, n)
    }

    /// Half a rate (the link got worse), from 8 KB/s when none was measured yet.
    func halved(_ rate: Double?) -> Double { (rate ?? Double(minimumChunkBytes) * 4 / chunkSeconds) / 2 }

    /// A chunk request, timed: the bytes it moved (a push's body, a pull's answer) over its time give the rate the
    /// next chunk is sized by. A request that was retried measures nothing (`onRetry` lowers the rate instead).
    private func measured<T>(_ report: inout SyncReport, bytes: (T) -> Int, rate: ReferenceWritableKeyPath<Synchronizer, Double?>,
                             onRetry: () throws -> Void, _ op: (String) async throws -> T) async throws -> T {
        let retriesBefore = report.retries
        let t0 = Date()
        let value = try await request(&report, onRetry: onRetry, op)
        let seconds = max(0.001, Date().timeIntervalSince(t0))
        if report.retries == retriesBefore, case let n = bytes(value), n >= 4096 {
            self[keyPath: rate] = Double(n) / seconds
        }
        return value
    }

    private func resetCursors() throws {
        try replica.setSyncState([SyncStateKey.pullCursor: "0", SyncStateKey.pushCursor: "0"])
    }

    /// Runs one request outside a sync (with the same token refresh and retries).
    public func authorized<T>(_ op: (String) async throws -> T) async throws -> T {
        var report = SyncReport()
        return try await request(&report, op)
    }

    /// Runs one request with a fresh access token, refreshing once on expiry and retrying transient failures;
    /// `onRetry` runs before each retry (it may change what `op` sends).
    private func request<T>(_ report: inout SyncReport, onRetry: () throws -> Void = {},
                            _ op: (String) async throws -> T) async throws -> T {
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
            } catch let e as SyncClientError where e.code == ErrorCode.deviceKeyRequired && tokens.keyRegistered != false {
                // The server lost or never had this device's key (a session from an older client): register it once.
                tokens.keyRegistered = false
                try await ensureKey(&report)
            } catch let e as SyncClientError where e.isTransient && attempt < retries {
                var wait = baseDelay * Double(1 << attempt) * Double.random(in: 0.8...1.2)
                if case .server(_, _, _, let retryAfter?) = e { wait = max(wait, Double(min(retryAfter, 60))) }
                attempt += 1
                report.retries += 1
                try await Task.sleep(nanoseconds: UInt64(min(wait, 30) * 1e9))
                try onRetry()
            }
        }
    }

    private func refreshTokens() async throws {
        tokens = try await connection.refresh(tokens.refreshToken)
        try saveTokens(tokens)
    }
}
