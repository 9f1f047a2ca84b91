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

/// Counts failed logins per user name and per address in a sliding window.
actor LoginLimiter {
    private let maxFailures: Int
    private let window: Int64
    private var failures: [String: [Int64]] = [:]

    init(maxFailures: Int, windowSeconds: Int) {
        self.maxFailures = maxFailures
        window = Int64(windowSeconds)
    }

    /// Seconds until another attempt is allowed for any of `keys`, or nil when allowed now.
    func retryAfter(_ keys: [String], now: Int64) -> Int? {
        var wait: Int64 = 0
        for key in keys {
            let recent = (failures[key] ?? []).filter { $0 > now - window }
            failures[key] = recent.isEmpty ? nil : recent
            if recent.count >= maxFailures { wait = max(wait, recent[recent.count - maxFailures] + window - now) }
        }
        return wait > 0 ? Int(wait) : nil
    }

    func recordFailure(_ keys: [String], now: Int64) {
        for key in keys { failures[key, default: []].append(now) }
        if failures.count > 100_000 { failures = failures.filter { $0.value.contains { $0 > now - window } } }
    }

    func recordSuccess(user key: String) { failures[key] = nil }
}
