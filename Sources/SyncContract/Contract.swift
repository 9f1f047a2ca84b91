public import Foundation

/// The HTTP sync contract between `daiban` and `daiban-server` (`protocol/SPEC.md` §12): the protocol version,
/// header names, error codes and every JSON body, as Codable types both sides use. Keys travel in snake_case.
public enum SyncHTTP {
    /// The HTTP protocol version this build speaks (`Daiban-Protocol`). Bumped only on breaking changes.
    public static let protocolVersion = 2
    /// This release of daiban and daiban-server (`--version`), with the protocol it speaks.
    public static let release = "0.11.0"
    public static var versionText: String { "\(release) (sync protocol \(protocolVersion))" }
    /// The oldest client protocol version a server still serves.
    public static let oldestSupported = 2
    /// Media type of a bundle body.
    public static let bundleMediaType = "application/vnd.daiban.bundle"
    /// Largest JSON request body, in bytes.
    public static let maxJSONBody = 16 << 10

    /// Header names.
    public enum Header {
        public static let protocolVersion = "Daiban-Protocol"
        public static let next = "Daiban-Next"
        public static let more = "Daiban-More"
        public static let serverReplica = "Daiban-Server-Replica"
        /// The server's clock, Unix milliseconds, on every response (clients compare their own with it).
        public static let serverTime = "Daiban-Server-Time"
        /// The client's clock, Unix milliseconds, on every request (the server keeps each device's skew).
        public static let clientTime = "Daiban-Client-Time"
        public static let retryAfter = "Retry-After"
    }

    /// A JSON encoder for these bodies: snake_case keys, sorted.
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }

    /// A JSON decoder for these bodies: snake_case keys; unknown keys are ignored.
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

/// Stable error codes of the HTTP protocol (§12.4); bundle errors use the codes of §9.
public enum ErrorCode {
    public static let badRequest = "bad_request"
    public static let protocolUnsupported = "protocol_unsupported"
    public static let upgradeRequired = "upgrade_required"
    public static let badCursor = "bad_cursor"
    /// A query parameter that is not what the endpoint takes (400).
    public static let badParameter = "bad_parameter"
    public static let unauthenticated = "unauthenticated"
    public static let invalidToken = "invalid_token"
    public static let tokenExpired = "token_expired"
    public static let invalidCredentials = "invalid_credentials"
    public static let invalidRefreshToken = "invalid_refresh_token"
    public static let userDisabled = "user_disabled"
    public static let deviceRevoked = "device_revoked"
    public static let senderMismatch = "sender_mismatch"
    public static let relayForbidden = "relay_forbidden"
    public static let forbidden = "forbidden"
    public static let replicaTaken = "replica_taken"
    public static let deviceKeyRequired = "device_key_required"
    public static let deviceKeyMismatch = "device_key_mismatch"
    public static let badSignature = "bad_signature"
    public static let cursorAhead = "cursor_ahead"
    public static let payloadTooLarge = "payload_too_large"
    /// The server's disk is full: nothing of the request was kept (507).
    public static let storageFull = "storage_full"
    public static let tooManyAttempts = "too_many_attempts"
    public static let notFound = "not_found"
    public static let methodNotAllowed = "method_not_allowed"
    public static let internalError = "internal_error"
    /// This instance's copy of a shared replica cannot follow the database's log (503): another instance serves.
    public static let replicaUnavailable = "replica_unavailable"
}

/// `{"error":{"code","message"}}`.
public struct ErrorBody: Codable, Sendable {
    public struct Info: Codable, Sendable {
        public var code: String
        public var message: String
    }
    public var error: Info
    public init(code: String, message: String) { error = Info(code: code, message: message) }
}

/// `GET /health`.
public struct HealthResponse: Codable, Sendable {
    public var status: String
    public var `protocol`: Int
    public var replica: String
    public init(status: String, protocol: Int, replica: String) {
        self.status = status
        self.protocol = `protocol`
        self.replica = replica
    }
}

/// `POST /v1/login`.
public struct LoginRequest: Codable, Sendable {
    public var user: String
    public var password: String
    /// The client's replica id, 32 hex digits.
    public var replica: String
    public var deviceName: String?
    /// The device's Ed25519 public key, 64 hex digits; registered on first login.
    public var deviceKey: String?
    /// With `deviceKey`: that key's signature of `proofMessage(user:replica:time:)`, 128 hex digits.
    public var deviceProof: String?
    /// The Unix seconds in the signed message (the device's clock).
    public var proofTime: Int64?

    public init(user: String, password: String, replica: String, deviceName: String?, deviceKey: String?,
                deviceProof: String? = nil, proofTime: Int64? = nil) {
        self.user = user
        self.password = password
        self.replica = replica
        self.deviceName = deviceName
        self.deviceKey = deviceKey
        self.deviceProof = deviceProof
        self.proofTime = proofTime
    }

    /// What the device key signs at login: `daiban-login-v1`, NUL, the user name, NUL, the replica id (32
    /// lowercase hex digits), NUL, the time (decimal Unix seconds).
    public static func proofMessage(user: String, replica: String, time: Int64) -> [UInt8] {
        Array("daiban-login-v1".utf8) + [0] + Array(user.utf8) + [0] + Array(replica.lowercased().utf8) + [0]
            + Array(String(time).utf8)
    }
}

/// `POST /v1/refresh`.
public struct RefreshRequest: Codable, Sendable {
    public var refreshToken: String
    public init(refreshToken: String) { self.refreshToken = refreshToken }
}

/// The answer of login and refresh.
public struct SessionResponse: Codable, Sendable {
    public struct User: Codable, Sendable {
        public var name: String
        public var role: String
        public var township: String?
        public var department: String?
        public init(name: String, role: String, township: String?, department: String?) {
            self.name = name
            self.role = role
            self.township = township
            self.department = department
        }
    }
    public struct Device: Codable, Sendable {
        public var id: Int64
        public var name: String
        /// Whether the server holds this device's signing key.
        public var keyRegistered: Bool?
        public init(id: Int64, name: String, keyRegistered: Bool?) {
            self.id = id
            self.name = name
            self.keyRegistered = keyRegistered
        }
    }
    public var accessToken: String
    public var accessExpiresAt: Int64
    public var refreshToken: String
    public var refreshExpiresAt: Int64
    public var user: User
    public var device: Device
    public var serverReplica: String
    public var `protocol`: Int
    public init(accessToken: String, accessExpiresAt: Int64, refreshToken: String, refreshExpiresAt: Int64, user: User,
                device: Device, serverReplica: String, protocol: Int) {
        self.accessToken = accessToken
        self.accessExpiresAt = accessExpiresAt
        self.refreshToken = refreshToken
        self.refreshExpiresAt = refreshExpiresAt
        self.user = user
        self.device = device
        self.serverReplica = serverReplica
        self.protocol = `protocol`
    }
}

/// `POST /v1/device/key`: registers a device's key (first time), or rotates it with a proof from the old key.
public struct DeviceKeyRequest: Codable, Sendable {
    /// The new Ed25519 public key, 64 hex digits.
    public var key: String
    /// For a rotation: the old key's signature of `rotationMessage(device:newKey:seq:)`, 128 hex digits.
    public var proof: String?
    /// For a rotation: the device's sequence number when it switched keys. The old key keeps signing bundles of
    /// changes up to it (made before the rotation, relayed later), and nothing after.
    public var seq: UInt64?

    public init(key: String, proof: String?, seq: UInt64? = nil) {
        self.key = key
        self.proof = proof
        self.seq = seq
    }

    /// What the old key signs to hand over to a new one: `daiban-key-rotation-v2`, NUL, the device id
    /// (decimal), NUL, the new 32-byte key, the sequence number (8 bytes big-endian).
    public static func rotationMessage(device: Int64, newKey: [UInt8], seq: UInt64) -> [UInt8] {
        Array("daiban-key-rotation-v2".utf8) + [0] + Array(String(device).utf8) + [0] + newKey
            + (0..<8).map { UInt8(truncatingIfNeeded: seq >> (56 - 8 * $0)) }
    }
}

/// One refused version in a push answer (§12.6): which, and why.
public struct RejectionInfo: Codable, Sendable, Hashable {
    public var table: String
    public var key: String
    public var field: String
    /// The version's writer replica (32 hex digits) and HLC (the 64-bit integer), which identify it.
    public var writer: String
    public var hlc: UInt64
    public var reason: String
    public var message: String
    public init(table: String, key: String, field: String, writer: String, hlc: UInt64, reason: String, message: String) {
        self.table = table
        self.key = key
        self.field = field
        self.writer = writer
        self.hlc = hlc
        self.reason = reason
        self.message = message
    }
}

/// `POST /v1/push` and `POST /v1/relay`.
public struct PushResponse: Codable, Sendable {
    /// The bundle's `to_seq`, echoed.
    public var acked: UInt64
    public var rows: Int
    public var applied: Int
    public var ignored: Int
    public var conflictsOpen: Int
    /// Versions refused (the length of `rejected`).
    public var quarantined: Int
    public var rejected: [RejectionInfo]
    /// The server's current state of the refused fields the account may see, as a base64 bundle (absent when
    /// nothing was refused).
    public var current: String?
    public init(acked: UInt64, rows: Int, applied: Int, ignored: Int, conflictsOpen: Int, quarantined: Int,
                rejected: [RejectionInfo], current: String?) {
        self.acked = acked
        self.rows = rows
        self.applied = applied
        self.ignored = ignored
        self.conflictsOpen = conflictsOpen
        self.quarantined = quarantined
        self.rejected = rejected
        self.current = current
    }
}

/// `GET /v1/devices`.
public struct DevicesResponse: Codable, Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var id: Int64
        public var user: String
        public var role: String
        public var name: String
        public var replica: String
        public var revoked: Bool
        public var lastSeenAt: Int64?
        /// The device's clock minus the server's at its last request, in seconds.
        public var clockSkewSeconds: Int64?
        /// The first 16 hex digits of the SHA-256 of its public key.
        public var keyFingerprint: String?
        public init(id: Int64, user: String, role: String, name: String, replica: String, revoked: Bool,
                    lastSeenAt: Int64?, clockSkewSeconds: Int64?, keyFingerprint: String?) {
            self.id = id
            self.user = user
            self.role = role
            self.name = name
            self.replica = replica
            self.revoked = revoked
            self.lastSeenAt = lastSeenAt
            self.clockSkewSeconds = clockSkewSeconds
            self.keyFingerprint = keyFingerprint
        }
    }
    public var devices: [Entry]
    public init(devices: [Entry]) { self.devices = devices }
}

/// `GET /v1/history?table=T&row=KEY`.
public struct HistoryResponse: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var field: String
        public var writer: String
        public var author: String
        public var hlc: UInt64
        public var viaUser: String
        public var viaDevice: String
        /// Unix milliseconds.
        public var appliedAt: UInt64
        public init(field: String, writer: String, author: String, hlc: UInt64, viaUser: String, viaDevice: String,
                    appliedAt: UInt64) {
            self.field = field
            self.writer = writer
            self.author = author
            self.hlc = hlc
            self.viaUser = viaUser
            self.viaDevice = viaDevice
            self.appliedAt = appliedAt
        }
    }
    public var entries: [Entry]
    public init(entries: [Entry]) { self.entries = entries }
}

/// `GET /v1/scope?after=N`: rows that left the account's scope, for its devices to remove.
public struct ScopeExitsResponse: Codable, Sendable {
    public struct Exit: Codable, Sendable, Hashable {
        public var id: Int64
        public var table: String
        public var key: String
        public init(id: Int64, table: String, key: String) {
            self.id = id
            self.table = table
            self.key = key
        }
    }
    public var exits: [Exit]
    /// The `after` to send next.
    public var next: Int64
    public init(exits: [Exit], next: Int64) {
        self.exits = exits
        self.next = next
    }
}
