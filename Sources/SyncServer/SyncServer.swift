public import Foundation
import Dispatch
import Logging
import Metrics
public import ReplicaStore
import SyncCore
import SyncProtocol
import CaseDomain
import CaseWorkflow
import Synchronization
import HTTPTypes

/// The authenticated caller of a request.
struct Principal: Sendable {
    var user: User
    var device: Device
}

/// What a push did, as returned to the client.
struct PushResult: Sendable {
    var report: ImportReport
    var acked: UInt64
}

/// The server's state: its replica, the accounts, the token key, the login limiter.
///
/// The replica is an ordinary `ReplicaDatabase` (author "server"); pushes are imports with an attribution and
/// pulls are chunked exports. Blocking SQLite work runs off the event loop (`offload`).
public final class DaibanServer: Sendable {
    public let config: ServerConfig
    public let replica: ReplicaDatabase
    public let accounts: AccountStore
    /// Names this server's cursor space: its replica id and an epoch that `admin new-epoch` changes after a
    /// restore from backup, so that every client pulls from 0 and pushes everything again.
    public let cursorSpace: String
    let signer: TokenSigner
    let limiter: LoginLimiter
    let now: @Sendable () -> Int64
    let logger: Logger
    /// Field states per pull chunk, learnt from recent chunks.
    private let chunkHint = Mutex(4096)

    /// Opens (creating when missing) the data folder's replica, accounts database and token key.
    /// - Parameter now: Unix seconds (tests move it to expire tokens).
    public init(config: ServerConfig, logger: Logger = Logger(label: "daiban.server"),
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws {
        try config.validate()
        self.config = config
        self.logger = logger
        self.now = now
        try FileManager.default.createDirectory(atPath: config.data, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        if FileManager.default.fileExists(atPath: config.replicaPath) {
            replica = try ReplicaDatabase.open(at: config.replicaPath, schema: DaibanSchema.schema)
        } else {
            replica = try ReplicaDatabase.create(at: config.replicaPath, schema: DaibanSchema.schema, author: "server")
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config.replicaPath)
        }
        accounts = try AccountStore(path: config.accountsPath)
        cursorSpace = replica.id.description + "." + (try Self.epoch(replica, renew: false))
        signer = try TokenSigner.load(path: config.tokenKeyPath)
        limiter = LoginLimiter(maxFailures: config.loginMaxFailures, windowSeconds: config.loginWindowSeconds)
    }

    /// The stored epoch (made on first start), or a new one when `renew`.
    @discardableResult
    public static func epoch(_ replica: ReplicaDatabase, renew: Bool) throws -> String {
        if !renew, let e = try replica.syncState("server.epoch") { return e }
        let e = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try replica.setSyncState(["server.epoch": e])
        return e
    }

    // MARK: Sessions

    struct Session: Sendable {
        var access: String
        var accessExpires: Int64
        var refresh: String
        var refreshExpires: Int64
        var principal: Principal
    }

    func login(name: String, password: String, replica: ReplicaID, deviceName: String, address: String) async throws
        -> Session
    {
        let keys = ["u:" + name, "a:" + address]
        if let wait = await limiter.retryAfter(keys, now: now()) {
            Metrics.loginRejected.increment()
            logger.notice("login throttled", metadata: ["retry_after": "\(wait)"])
            throw APIError(.tooManyRequests, "too_many_attempts",
                           "too many failed sign-ins; try again in \(wait) s", retryAfter: wait)
        }
        let cost = config.bcryptCost
        let user = try await offload { [accounts] in try accounts.authenticate(name: name, password: password, cost: cost) }
        guard let user else {
            await limiter.recordFailure(keys, now: now())
            Metrics.loginFailures.increment()
            logger.notice("login failed")
            throw APIError(.unauthorized, "invalid_credentials", "wrong user name or password")
        }
        await limiter.recordSuccess(user: keys[0])
        guard !user.disabled else { throw APIError.forbidden("user_disabled", "this account is disabled") }
        let t = now()
        let device = try await offload { [accounts] in
            try accounts.device(for: user, replica: replica, name: deviceName, now: t)
        }
        logger.info("login", metadata: ["user_id": "\(user.id)", "device_id": "\(device.id)"])
        return try await issue(Principal(user: user, device: device))
    }

    func refresh(token: String) async throws -> Session {
        let t = now()
        let principal = try await offload { [accounts] () throws -> Principal in
            guard let deviceID = try accounts.redeemRefreshToken(token, now: t) else {
                throw APIError(.unauthorized, "invalid_refresh_token", "the refresh token is unknown or expired; sign in again")
            }
            return try Self.principal(accounts, userID: nil, deviceID: deviceID)
        }
        return try await issue(principal)
    }

    private func issue(_ principal: Principal) async throws -> Session {
        let t = now()
        let accessExpires = t + Int64(config.accessTokenSeconds)
        let refreshExpires = t + Int64(config.refreshTokenSeconds)
        let access = signer.sign(AccessClaims(u: principal.user.id, d: principal.device.id, exp: accessExpires))
        let refresh = try await offload { [accounts] in
            try accounts.issueRefreshToken(deviceID: principal.device.id, expiresAt: refreshExpires)
        }
        return Session(access: access, accessExpires: accessExpires, refresh: refresh, refreshExpires: refreshExpires,
                       principal: principal)
    }

    /// Checks a bearer token and that its device still stands.
    func authenticate(authorization: String?) async throws -> Principal {
        guard let authorization, authorization.hasPrefix("Bearer ") else { throw APIError.unauthenticated() }
        let claims: AccessClaims
        do {
            claims = try signer.verify(String(authorization.dropFirst(7)), now: now())
        } catch .expired {
            throw APIError(.unauthorized, "token_expired", "the access token expired; refresh it or sign in again")
        } catch {
            throw APIError(.unauthorized, "invalid_token", "the access token is not valid here")
        }
        return try await offload { [accounts] in try Self.principal(accounts, userID: claims.u, deviceID: claims.d) }
    }

    private static func principal(_ accounts: AccountStore, userID: Int64?, deviceID: Int64) throws -> Principal {
        guard let device = try accounts.device(id: deviceID), userID == nil || device.userID == userID,
              let user = try accounts.user(id: device.userID)
        else { throw APIError(.unauthorized, "invalid_token", "the token's device or user no longer exists") }
        guard device.revokedAt == nil else {
            throw APIError.forbidden("device_revoked",
                                     "device \(device.id) was revoked; it can no longer push or pull (local data is kept)")
        }
        guard !user.disabled else { throw APIError.forbidden("user_disabled", "this account is disabled") }
        return Principal(user: user, device: device)
    }

    // MARK: Push and pull

    /// Applies one pushed bundle in one transaction, attributed to the caller.
    func push(_ bytes: [UInt8], by p: Principal) async throws -> PushResult {
        let started = DispatchTime.now()
        var limits = ChangeSetLimits.default
        limits.maxCompressedBytes = config.maxPushBytes
        limits.maxDecompressedBytes = config.maxPushDecompressedBytes
        var options = ImportOptions(
            attribution: .init(user: p.user.name, device: String(p.device.id)), limits: limits)
        let own = p.device.replica
        options.checkSender = { sender in
            guard sender == own else {
                throw APIError.forbidden("sender_mismatch",
                                         "the bundle was written by replica \(sender.short), not this device's \(own.short)")
            }
        }
        if !p.user.role.mayRelay {
            options.checkRow = { row in
                for f in row.fields {
                    for v in f.state.versions where v.writer != own {
                        throw APIError.forbidden("relay_forbidden",
                                                 "a \(p.user.role.rawValue) may push only its own writes (found one from replica \(v.writer.short)); relaying is for township and centre accounts")
                    }
                }
            }
        }
        let role = p.user.role.rawValue
        options.authorizeField = { table, field, state in
            // A deletion needs the right to write the table at all; everything else goes by field ownership (§3).
            if field == Schema.deletedField { return role != "liaison" && FieldOwnership.allows(role: role, table: table, field: "_row", state: state) }
            return FieldOwnership.allows(role: role, table: table, field: field, state: state)
        }
        options.afterRow = { row, stamper in try PullScope.restampOnAssignment(row, stamper) }
        let opts = options
        let report = try await offload { [replica, accounts, now] in
            let r = try replica.importBundle(bytes, options: opts)
            try accounts.touch(deviceID: p.device.id, now: now())
            return r
        }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        Metrics.pushBytes.record(bytes.count)
        Metrics.changesApplied.increment(by: report.applied)
        Metrics.conflictsOpen.record(report.conflictsAfter)
        logger.info("push", metadata: [
            "user_id": "\(p.user.id)", "device_id": "\(p.device.id)", "bytes": "\(bytes.count)",
            "rows": "\(report.rows)", "applied": "\(report.applied)", "ignored": "\(report.ignored)",
            "conflicts": "\(report.conflictsAfter)", "quarantined": "\(report.quarantined)", "ms": "\(Int(ms))",
        ])
        return PushResult(report: report, acked: report.toSeq)
    }

    /// The rows a user receives (DOMAIN.md §3): nil (everything) for the centre.
    static func pullScope(_ user: User) -> RowFilter? {
        switch user.role {
        case .center: nil
        case .agent: PullScope.rowFilter(.agent(login: user.name))
        case .township: PullScope.rowFilter(.township(user.township ?? ""))
        case .liaison: PullScope.rowFilter(.liaison(login: user.name, department: user.department))
        }
    }

    /// One chunk of everything after `cursor` that the caller may see, leaving out what its own replica wrote.
    func pull(after cursor: UInt64, by p: Principal) async throws -> ChangeChunk {
        let hint = chunkHint.withLock { $0 }
        let target = config.pullChunkBytes
        let (chunk, learnt) = try await offload { [replica, accounts, now] () throws -> (ChangeChunk, Int) in
            let seq = try replica.currentSeq()
            guard cursor <= seq else {
                throw APIError(.conflict, "cursor_ahead",
                               "cursor \(cursor) is past this server's last change \(seq) (server data was replaced); pull again from 0")
            }
            var exporter = ChunkedExporter(targetBytes: target, fieldsPerChunk: hint)
            let chunk = try exporter.next(from: replica, after: cursor, filter: .excluding(p.device.replica),
                                          rows: Self.pullScope(p.user))
            try accounts.touch(deviceID: p.device.id, now: now())
            return (chunk, exporter.fieldsPerChunk)
        }
        chunkHint.withLock { $0 = learnt }
        Metrics.pullBytes.record(chunk.bytes.count)
        Metrics.pullChunks.increment()
        logger.info("pull", metadata: [
            "user_id": "\(p.user.id)", "device_id": "\(p.device.id)", "after": "\(cursor)", "next": "\(chunk.next)",
            "fields": "\(chunk.changeSet.fieldCount)", "bytes": "\(chunk.bytes.count)", "more": "\(chunk.more)",
        ])
        return chunk
    }
}

/// Runs blocking work (SQLite, bcrypt) on a global queue instead of the event loop.
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
