import Foundation
import Crypto
import HummingbirdBcrypt
import Synchronization

/// bcrypt through hummingbird-auth.
enum PasswordHasher {
    static func hash(_ password: String, cost: Int) -> String { Bcrypt.hash(password, cost: UInt8(cost)) }
    static func verify(_ password: String, hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }
    /// A valid hash of a random password at the configured cost, checked for unknown user names so that they
    /// take as long as wrong passwords.
    static func decoy(cost: Int) -> String {
        decoys.withLock { cache in
            if let h = cache[cost] { return h }
            let h = Bcrypt.hash(UUID().uuidString, cost: UInt8(cost))
            cache[cost] = h
            return h
        }
    }
    private static let decoys = Mutex<[Int: String]>([:])
}

/// What an access token asserts.
struct AccessClaims: Codable, Equatable {
    /// User id.
    var u: Int64
    /// Device id.
    var d: Int64
    /// Expiry, Unix seconds.
    var exp: Int64
    /// Issue time, Unix seconds (absent in tokens of older servers: they count as issued at `exp` − lifetime).
    var iat: Int64?
}

/// Signs and checks access tokens: `dbt1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`.
///
/// The key is 256 random bits in `<data>/token.key` (mode 0600), made on first start. Deleting it signs
/// everyone out (refresh tokens still work, since they are checked against the database).
struct TokenSigner: Sendable {
    let key: SymmetricKey

    static func load(path: String) throws -> TokenSigner {
        if let data = FileManager.default.contents(atPath: path), data.count == 32 {
            return TokenSigner(key: SymmetricKey(data: data))
        }
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError("cannot write \(path)")
        }
        return TokenSigner(key: key)
    }

    func sign(_ claims: AccessClaims) -> String {
        let payload = base64URL([UInt8](try! JSONEncoder().encode(claims)))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(("dbt1." + payload).utf8), using: key)
        return "dbt1." + payload + "." + base64URL(Array(mac))
    }

    enum Failure: Error { case malformed, badSignature, expired }

    func verify(_ token: String, now: Int64) throws(Failure) -> AccessClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "dbt1", let mac = fromBase64URL(String(parts[2])),
              let payload = fromBase64URL(String(parts[1]))
        else { throw .malformed }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data("dbt1.\(parts[1])".utf8), using: key) else {
            throw .badSignature
        }
        guard let claims = try? JSONDecoder().decode(AccessClaims.self, from: Data(payload)) else { throw .malformed }
        guard claims.exp > now else { throw .expired }
        return claims
    }
}

/// One sign-in counter (`LoginLimiter`).
public struct LoginCounter: Sendable, Equatable {
    public var failures = 0
    public var last: Int64 = 0
    public var blockedUntil: Int64 = 0
    /// Successful sign-ins that took their count back (an address gets at most `addressFree` per window, so
    /// that an attacker's own logins cannot keep wiping its guesses).
    public var credits = 0
    /// When the counter is forgotten: a window after its last failure or the end of its block, whichever is later.
    public var fadesAt: Int64 = 0
}

/// Slows password guessing without locking the right person out (`protocol/SPEC.md` §12.3).
///
/// Every attempt is counted **before** its password is hashed, in one transaction of the account store, so
/// parallel attempts cannot slip past the limit together, even on different server instances; a successful login
/// takes its own count back. Three counters:
/// - the address (every user name tried from it): `addressFree` attempts, then a growing delay up to 15 minutes;
/// - the user name from that address: `loginMaxFailures` attempts, then a growing delay up to 15 minutes;
/// - the user name from anywhere: `userFree` attempts, then a delay growing to at most `userCap` seconds; a login
///   from a device already registered to that user is exempt, so someone else's guesses cost the real user at
///   most a minute on a new device, and nothing on their own laptop.
/// Counts fade after `window` seconds without failures once any block has ended. They are kept in the account
/// store (`login_counter`), so a restart does not wipe them and every server on one database counts together.
/// Addresses count by `addressKey` (IPv6 by /64).
public struct LoginLimiter: Sendable {
    let store: AccountStore
    private let pairFree: Int
    private let window: Int64
    let addressFree = 20
    let userFree = 10
    let userCap: Int64 = 60
    let cap: Int64 = 900

    public init(maxFailures: Int, windowSeconds: Int, store: AccountStore) {
        pairFree = max(1, maxFailures)
        window = Int64(windowSeconds)
        self.store = store
    }

    /// The keys of one attempt.
    public struct Attempt: Sendable {
        let keys: [Key]
        let now: Int64
    }

    struct Key: Sendable {
        let key: String
        let free: Int
        let cap: Int64
    }

    /// Counts an attempt, or refuses it with the seconds to wait. A sign-in from a device registered to the user
    /// and proved by its key (`knownDevice`) is not counted at all: nobody else's guesses slow it.
    public func begin(user: String, address: String, knownDevice: Bool, now: Int64) async throws -> Result<Attempt, Wait> {
        if knownDevice { return .success(Attempt(keys: [], now: now)) }
        // User names hold no whitespace (`login` refuses them first), so a space separates the pair's parts.
        let keys = [Key(key: "a:" + address, free: addressFree, cap: cap), Key(key: "p:" + user + " " + address, free: pairFree, cap: cap),
                    Key(key: "u:" + user, free: userFree, cap: userCap)]
        let window = window
        return try await store.withLoginCounters(keys.map(\.key), now: now) { counters -> Result<Attempt, Wait> in
            var wait: Int64 = 0
            for k in keys {
                guard let c = counters[k.key] else { continue }
                wait = max(wait, c.blockedUntil - now)
            }
            // A refused attempt stores nothing new.
            if wait > 0 { return .failure(Wait(seconds: Int(wait))) }
            for k in keys {
                var c = counters[k.key] ?? LoginCounter()
                c.failures += 1
                c.last = now
                if c.failures >= k.free { c.blockedUntil = now + min(k.cap, Int64(1) << min(20, c.failures - k.free)) }
                c.fadesAt = max(c.last, c.blockedUntil) + window
                counters[k.key] = c
            }
            return .success(Attempt(keys: keys, now: now))
        }
    }

    /// The attempt succeeded: the pair's counter is cleared, the user's count taken back, and the address's
    /// taken back while it has credits left; no block is lifted early.
    public func succeeded(_ attempt: Attempt) async throws {
        guard !attempt.keys.isEmpty else { return }
        let addressFree = addressFree
        try await store.withLoginCounters(attempt.keys.map(\.key), now: attempt.now) { counters in
            for (i, k) in attempt.keys.enumerated() {
                guard var c = counters[k.key] else { continue }
                switch i {
                case 1:
                    counters[k.key] = nil
                    continue
                case 0:
                    guard c.credits < addressFree else { continue }
                    c.credits += 1
                    c.failures = max(0, c.failures - 1)
                default:
                    c.failures = max(0, c.failures - 1)
                    if c.failures < k.free { c.blockedUntil = 0 }
                }
                counters[k.key] = c
            }
        }
    }

    public struct Wait: Error { public let seconds: Int }

    /// The address an attempt counts against: an IPv4 address, or the /64 network of an IPv6 address (one
    /// subscriber holds a whole /64).
    public static func addressKey(_ address: String) -> String {
        var v6 = in6_addr()
        guard address.contains(":"), inet_pton(AF_INET6, address, &v6) == 1 else { return address }
        let bytes = withUnsafeBytes(of: &v6) { Array($0.prefix(8)) }
        // An IPv4-mapped address counts as its IPv4 address.
        let mapped = withUnsafeBytes(of: &v6) { Array($0) }
        if mapped.prefix(10).allSatisfy({ $0 == 0 }) && mapped[10] == 0xff && mapped[11] == 0xff {
            return mapped[12...].map(String.init).joined(separator: ".")
        }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
    }
}
