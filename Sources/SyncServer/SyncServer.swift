public import Foundation
import Dispatch
import Crypto
import Logging
import Metrics
public import ReplicaStore
import SyncCore
import SyncProtocol
import SyncContract
import CaseDomain
import CaseWorkflow
import Crypto
import Synchronization
import HTTPTypes

/// The authenticated caller of a request.
struct Principal: Sendable {
    var user: User
    var device: Device
}

/// The server's state: its replica, the accounts, the token key, the login limiter.
///
/// The replica is an ordinary `ReplicaDatabase` (author "server"); pushes are imports judged version by version
/// (`SyncServer+Push.swift`) and pulls are chunked exports scoped per row. Blocking SQLite work runs off the event
/// loop (`offload`).
public final class DaibanServer: Sendable {
    public let config: ServerConfig
    public let replica: ReplicaDatabase
    public let accounts: AccountStore
    /// Names this server's cursor space: its replica id and an epoch that `admin new-epoch` changes after a
    /// restore from backup, so that every client pulls from 0 and pushes everything again.
    public let cursorSpace: String
    let signer: TokenSigner
    let limiter: LoginLimiter
    /// Unix seconds for tokens and limits (tests move it).
    let now: @Sendable () -> Int64
    /// The wall clock in Unix milliseconds that versions' clocks are judged against (tests skew clients instead).
    let wallClock: @Sendable () -> UInt64
    let logger: Logger
    /// Field states per pull chunk, learnt from recent chunks.
    let chunkHint = Mutex(4096)
    /// The facts of rows the pulls judge, kept from one pull to the next (each changed row is read once, not once
    /// per device).
    let facts = SharedFacts()
    /// The smallest pull chunk a device may ask for (`max_bytes`).
    static let minimumPullChunkBytes = 16 << 10

    /// Opens (creating when missing) the data folder's replica, accounts database and token key. The folder is
    /// made private (0700) and every file in it 0600, whatever existed before: the SQLite side files (`-wal`,
    /// `-shm`) hold case data too.
    /// - Parameters:
    ///   - now: Unix seconds (tests move it to expire tokens).
    ///   - wallClock: Unix milliseconds that incoming versions' clocks are bounded by.
    public convenience init(config: ServerConfig, logger: Logger = Logger(label: "daiban.server"),
                            now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
                            wallClock: @escaping @Sendable () -> UInt64 = ReplicaDatabase.wallClockMillis) throws {
        try self.init(config: config, shared: nil, replica: nil, logger: logger, now: now, wallClock: wallClock)
    }

    /// Opens an instance on a PostgreSQL database shared with other instances: the accounts, the token key and
    /// the replica (its log, `PostgresReplicaLog`) are in the database; the data folder holds this instance's copy
    /// of the replica, rebuilt from the log when it is missing or stale.
    /// - Parameter accounts: the database's account store, when the caller has opened it already.
    public static func open(config: ServerConfig, database url: String, accounts: AccountStore? = nil,
                            logger: Logger = Logger(label: "daiban.server"),
                            now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
                            wallClock: @escaping @Sendable () -> UInt64 = ReplicaDatabase.wallClockMillis) async throws
        -> DaibanServer
    {
        let store: AccountStore
        if let accounts { store = accounts } else { store = AccountStore(database: try await PostgresAccountDatabase(url: url)) }
        let key = try await store.database.tokenKey()
        let replica = try await offload { try SharedReplica.open(config: config, url: url, wallClock: wallClock, logger: logger) }
        return try DaibanServer(config: config, shared: (store, key), replica: replica, logger: logger, now: now,
                                wallClock: wallClock)
    }

    private init(config: ServerConfig, shared: (accounts: AccountStore, tokenKey: SymmetricKey)?,
                 replica opened: ReplicaDatabase?, logger: Logger,
                 now: @escaping @Sendable () -> Int64, wallClock: @escaping @Sendable () -> UInt64) throws {
        try config.validate()
        self.config = config
        self.logger = logger
        self.now = now
        self.wallClock = wallClock
        umask(0o077)
        try FileManager.default.createDirectory(atPath: config.data, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try ServerBackup.refuseIncompleteRestore(config.data)
        if let opened {
            replica = opened
        } else if FileManager.default.fileExists(atPath: config.replicaPath) {
            replica = try ReplicaDatabase.open(at: config.replicaPath, schema: DaibanSchema.schema, now: wallClock)
        } else {
            replica = try ReplicaDatabase.create(at: config.replicaPath, schema: DaibanSchema.schema, author: "server",
                                                 now: wallClock)
        }
        accounts = try shared?.accounts ?? AccountStore(path: config.accountsPath)
        cursorSpace = replica.id.description + "." + (try Self.epoch(replica, renew: false))
        signer = try shared.map { TokenSigner(key: $0.tokenKey) } ?? TokenSigner.load(path: config.tokenKeyPath)
        limiter = LoginLimiter(maxFailures: config.loginMaxFailures, windowSeconds: config.loginWindowSeconds, store: accounts)
        Self.secureDataFolder(config.data)
    }

    /// 0700 for the folder, 0600 for every file in it.
    static func secureDataFolder(_ path: String) {
        let fm = FileManager.default
        try? fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        for name in (try? fm.contentsOfDirectory(atPath: path)) ?? [] {
            let file = path + "/" + name
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: file, isDirectory: &isDir) else { continue }
            try? fm.setAttributes([.posixPermissions: isDir.boolValue ? 0o700 : 0o600], ofItemAtPath: file)
        }
    }

    /// The stored epoch (made on first start), or a new one when `renew`.
    @discardableResult
    public static func epoch(_ replica: ReplicaDatabase, renew: Bool) throws -> String {
        let e = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        if !renew { return try replica.syncState("server.epoch", storingWhenMissing: e) }
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

    /// Signs a device in. A device key must come with its signature of the sign-in (`LoginRequest.proofMessage`):
    /// the device holds the key it registers. A sign-in so proved, from a device registered to the user with that
    /// key and stamped within 5 minutes of the server's clock, is not slowed by others' failed guesses.
    func login(name: String, password: String, replica claimed: ReplicaID, deviceName: String, deviceKey: [UInt8]?,
               proof: [UInt8]?, proofTime: Int64?, address: String) async throws -> Session {
        // No account has a name outside 1–64 bytes without whitespace: such a name is answered at once, and
        // counts nothing (the limiter never holds attacker-sized keys).
        guard !name.isEmpty, name.utf8.count <= 64, !name.contains(where: \.isWhitespace),
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError(.unauthorized, ErrorCode.invalidCredentials, "wrong user name or password")
        }
        var known = false
        if let deviceKey {
            guard let proof, let proofTime,
                  verifySignature(proof, of: LoginRequest.proofMessage(user: name, replica: claimed.description, time: proofTime),
                                  publicKey: deviceKey)
            else {
                throw APIError.forbidden(ErrorCode.badSignature,
                                         "the device key must sign the sign-in (daiban login does); this request's signature is missing or does not verify")
            }
            let fresh = proofTime.subtractingReportingOverflow(now())
            if !fresh.overflow && abs(fresh.partialValue) <= 300 {
                known = (try? await accounts.isKnownDevice(user: name, replica: claimed, key: deviceKey)) ?? false
            }
        }
        let attempt: LoginLimiter.Attempt
        switch try await limiter.begin(user: name, address: address, knownDevice: known, now: now()) {
        case .success(let a): attempt = a
        case .failure(let wait):
            Metrics.loginRejected.increment()
            logger.notice("login throttled", metadata: ["retry_after": "\(wait.seconds)"])
            throw APIError(.tooManyRequests, ErrorCode.tooManyAttempts,
                           "too many sign-in attempts from this address or for this name; try again in \(wait.seconds) s, or ask the centre to lift the pause", retryAfter: wait.seconds)
        }
        let cost = config.bcryptCost
        let user = try await accounts.authenticate(name: name, password: password, cost: cost)
        guard let user else {
            Metrics.loginFailures.increment()
            logger.notice("login failed")
            throw APIError(.unauthorized, ErrorCode.invalidCredentials, "wrong user name or password")
        }
        try await limiter.succeeded(attempt)
        guard !user.disabled else { throw APIError.forbidden(ErrorCode.userDisabled, "this account is disabled") }
        // A device may not claim the server's own replica id, nor one the server knows as another device's.
        if claimed == replica.id {
            throw APIError(.conflict, ErrorCode.replicaTaken, "replica \(claimed.short) is the server's own; run daiban init in a new home")
        }
        let t = now()
        let relayed = try await accounts.relayedKeys(replica: claimed)
        let new = try await accounts.device(replica: claimed) == nil
        let device = try await accounts.device(for: user, replica: claimed, name: deviceName, key: deviceKey, now: t)
        // A laptop whose bundles were relayed before it ever signed in, signing in now with the key they
        // carried: the rows it registered become its user's, as if it had pushed them itself.
        var adopted = 0
        if new, let deviceKey, relayed.contains(deviceKey) {
            adopted = try await offload { [replica] in
                try replica.adoptOrigin(from: Judged.unverified(claimed).userID, to: String(user.id))
            }
        }
        if adopted > 0 { logger.info("unverified rows adopted", metadata: ["device_id": "\(device.id)", "rows": "\(adopted)"]) }
        logger.info("login", metadata: ["user_id": "\(user.id)", "device_id": "\(device.id)"])
        let refreshExpires = t + Int64(config.refreshTokenSeconds)
        let refresh = try await accounts.issueRefreshToken(deviceID: device.id, expiresAt: refreshExpires)
        return issue(Principal(user: user, device: device), refresh: refresh, refreshExpires: refreshExpires)
    }

    func refresh(token: String) async throws -> Session {
        let t = now()
        let lifetime = Int64(config.refreshTokenSeconds)
        let (principal, next): (Principal, String)
        switch try await accounts.redeemRefreshToken(token, successorKey: signer.key, now: t, lifetime: lifetime) {
        case .next(let deviceID, let token):
            (principal, next) = (try await Self.principal(accounts, userID: nil, deviceID: deviceID, issuedAt: nil), token)
        case .replayed:
            logger.warning("a spent refresh token was presented again; its device's session family is revoked")
            throw APIError(.unauthorized, ErrorCode.invalidRefreshToken,
                           "this sign-in was used elsewhere after it was renewed, so it was ended for safety; sign in again")
        case .invalid:
            throw APIError(.unauthorized, ErrorCode.invalidRefreshToken,
                           "the refresh token is unknown or expired; sign in again")
        }
        return issue(principal, refresh: next, refreshExpires: t + lifetime)
    }

    private func issue(_ principal: Principal, refresh: String, refreshExpires: Int64) -> Session {
        let t = now()
        let accessExpires = t + Int64(config.accessTokenSeconds)
        let access = signer.sign(AccessClaims(u: principal.user.id, d: principal.device.id, exp: accessExpires, iat: t))
        return Session(access: access, accessExpires: accessExpires, refresh: refresh, refreshExpires: refreshExpires,
                       principal: principal)
    }

    /// Checks a bearer token and that its device still stands; notes the device's clock when it sent one.
    func authenticate(authorization: String?, clientTime: Int64? = nil) async throws -> Principal {
        guard let authorization, authorization.hasPrefix("Bearer ") else { throw APIError.unauthenticated() }
        let claims: AccessClaims
        do {
            claims = try signer.verify(String(authorization.dropFirst(7)), now: now())
        } catch .expired {
            throw APIError(.unauthorized, ErrorCode.tokenExpired, "the access token expired; refresh it or sign in again")
        } catch {
            throw APIError(.unauthorized, ErrorCode.invalidToken, "the access token is not valid here")
        }
        let issued = claims.iat ?? (claims.exp - Int64(config.accessTokenSeconds))
        let wall = Int64(wallClock())
        let p = try await Self.principal(accounts, userID: claims.u, deviceID: claims.d, issuedAt: issued)
        if let clientTime {
            // Whatever the header says: the skew is kept within ±100 years.
            let bound: Int64 = 100 * 365 * 86_400_000
            let skew = clientTime.subtractingReportingOverflow(wall)
            let clamped = skew.overflow ? (clientTime > 0 ? bound : -bound) : min(max(skew.partialValue, -bound), bound)
            try await accounts.noteClock(deviceID: p.device.id, skewMillis: clamped)
        }
        return p
    }

    static func principal(_ accounts: AccountStore, userID: Int64?, deviceID: Int64, issuedAt: Int64?) async throws -> Principal {
        guard let device = try await accounts.device(id: deviceID), userID == nil || device.userID == userID,
              let user = try await accounts.user(id: device.userID)
        else { throw APIError(.unauthorized, ErrorCode.invalidToken, "the token's device or user no longer exists") }
        guard device.revokedAt == nil else {
            throw APIError.forbidden(ErrorCode.deviceRevoked,
                                     "device \(device.id) was revoked; it can no longer push or pull (local data is kept)")
        }
        guard !user.disabled else { throw APIError.forbidden(ErrorCode.userDisabled, "this account is disabled") }
        if let issuedAt, issuedAt < user.sessionsValidAfter {
            throw APIError(.unauthorized, ErrorCode.invalidToken, "this sign-in was ended by a password change; sign in again")
        }
        return Principal(user: user, device: device)
    }

    /// Registers the device's first key (signed by itself: the device holds it), or rotates it when the old key
    /// signed the hand-over.
    func setDeviceKey(_ key: [UInt8], proof: [UInt8]?, seq: UInt64?, by p: Principal) async throws {
        guard key.count == 32 else { throw APIError.badRequest(ErrorCode.badRequest, "a device key is 32 bytes (64 hex digits)") }
        if p.device.publicKey == key { return }
        let message = DeviceKeyRequest.rotationMessage(device: p.device.id, newKey: key, seq: seq ?? 0)
        let signer = p.device.publicKey ?? key
        guard let proof, verifySignature(proof, of: message, publicKey: signer) else {
            throw APIError.forbidden(ErrorCode.badSignature, p.device.publicKey == nil
                                     ? "a device's first key must sign its own registration"
                                     : "a new key must be signed by the device's current key")
        }
        let t = now()
        try await accounts.setKey(device: p.device.id, key, now: t, retiredUpTo: seq ?? 0)
        logger.info("device key set", metadata: ["device_id": "\(p.device.id)"])
    }
}

/// Runs blocking work (SQLite, bcrypt) on a global queue instead of the event loop.
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
