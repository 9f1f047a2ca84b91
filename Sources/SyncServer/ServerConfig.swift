import Foundation
import TerminalText

/// Everything `daiban-server` can be told. Sources, lowest precedence first: built-in defaults, the JSON
/// config file (`<data>/server.json` or `--config`), `DAIBAN_*` environment variables, command-line flags.
public struct ServerConfig: Sendable, Codable, Equatable {
    /// Folder for the replica, the accounts database and the token key.
    public var data = "./daiban-data"
    public var host = "127.0.0.1"
    public var port = 8080
    /// Access-token lifetime in seconds.
    public var accessTokenSeconds = 15 * 60
    /// Refresh-token lifetime in seconds (a laptop may stay offline for weeks).
    public var refreshTokenSeconds = 60 * 24 * 3600
    /// Failed logins allowed per user and per address within `loginWindowSeconds`.
    public var loginMaxFailures = 5
    public var loginWindowSeconds = 15 * 60
    /// bcrypt cost for new passwords (each +1 doubles the work).
    public var bcryptCost = 12
    /// Largest push body (a compressed bundle), in bytes.
    public var maxPushBytes = 8 << 20
    /// Largest decompressed push payload, in bytes.
    public var maxPushDecompressedBytes = 128 << 20
    /// Target compressed size of one pull chunk, in bytes.
    public var pullChunkBytes = 256 << 10
    /// How far ahead of the server's clock an incoming version may be stamped, in seconds; later ones are refused
    /// (`clock_ahead`) until the device's clock is corrected and its writes re-stamped.
    public var maxClockAheadSeconds = 300
    /// Seconds a connection may take to send a request's headers (also: how long an idle connection stays open).
    public var headerTimeoutSeconds = 30
    /// Seconds a request body may go without a byte before the connection is closed.
    public var readTimeoutSeconds = 30
    /// Most open connections; more wait until one closes.
    public var maxConnections = 1024
    /// PEM certificate chain and private key; when both are set the server speaks HTTPS only.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// A PostgreSQL database (`postgres://USER@HOST:PORT/DB`) that holds the accounts and the replica, shared by
    /// several instances; the data folder then holds only this instance's copy of the replica (a cache, rebuilt
    /// from the database when missing). Nil: everything in the data folder (SQLite).
    public var database: String?
    /// This process's name in `/metrics` (`daiban_build_info{instance_id=…}`); default: the host name.
    public var instance: String?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, host, port, accessTokenSeconds, refreshTokenSeconds, loginMaxFailures, loginWindowSeconds
        case bcryptCost, maxPushBytes, maxPushDecompressedBytes, pullChunkBytes, tlsCertificate, tlsKey
        case maxClockAheadSeconds, headerTimeoutSeconds, readTimeoutSeconds, maxConnections, instance, database
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ServerConfig()
        data = try c.decodeIfPresent(String.self, forKey: .data) ?? d.data
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? d.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? d.port
        accessTokenSeconds = try c.decodeIfPresent(Int.self, forKey: .accessTokenSeconds) ?? d.accessTokenSeconds
        refreshTokenSeconds = try c.decodeIfPresent(Int.self, forKey: .refreshTokenSeconds) ?? d.refreshTokenSeconds
        loginMaxFailures = try c.decodeIfPresent(Int.self, forKey: .loginMaxFailures) ?? d.loginMaxFailures
        loginWindowSeconds = try c.decodeIfPresent(Int.self, forKey: .loginWindowSeconds) ?? d.loginWindowSeconds
        bcryptCost = try c.decodeIfPresent(Int.self, forKey: .bcryptCost) ?? d.bcryptCost
        maxPushBytes = try c.decodeIfPresent(Int.self, forKey: .maxPushBytes) ?? d.maxPushBytes
        maxPushDecompressedBytes = try c.decodeIfPresent(Int.self, forKey: .maxPushDecompressedBytes)
            ?? d.maxPushDecompressedBytes
        pullChunkBytes = try c.decodeIfPresent(Int.self, forKey: .pullChunkBytes) ?? d.pullChunkBytes
        maxClockAheadSeconds = try c.decodeIfPresent(Int.self, forKey: .maxClockAheadSeconds) ?? d.maxClockAheadSeconds
        headerTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .headerTimeoutSeconds) ?? d.headerTimeoutSeconds
        readTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .readTimeoutSeconds) ?? d.readTimeoutSeconds
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
        tlsCertificate = try c.decodeIfPresent(String.self, forKey: .tlsCertificate)
        tlsKey = try c.decodeIfPresent(String.self, forKey: .tlsKey)
        instance = try c.decodeIfPresent(String.self, forKey: .instance)
        database = try c.decodeIfPresent(String.self, forKey: .database)
    }

    /// Applies a JSON config file; unknown keys are an error so that typos do not pass silently.
    public mutating func merge(file path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError(L10n.t(.srvConfigNotObject, path))
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let unknown = object.keys.filter({ !known.contains($0) }).sorted().first {
            throw ConfigError(L10n.t(.srvConfigUnknown, path, unknown))
        }
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        for (k, v) in object { merged[k] = v }
        self = try JSONDecoder().decode(ServerConfig.self, from: JSONSerialization.data(withJSONObject: merged))
    }

    /// Applies `DAIBAN_HOST`, `DAIBAN_PORT`, `DAIBAN_DATA`, `DAIBAN_TLS_CERT`, `DAIBAN_TLS_KEY`,
    /// `DAIBAN_ACCESS_TOKEN_SECONDS`, `DAIBAN_BCRYPT_COST`, `DAIBAN_PULL_CHUNK_BYTES`, `DAIBAN_MAX_CLOCK_AHEAD`,
    /// `DAIBAN_INSTANCE`.
    public mutating func merge(environment env: [String: String]) throws {
        func int(_ name: String) throws -> Int? {
            guard let v = env[name], !v.isEmpty else { return nil }
            guard let n = Int(v) else { throw ConfigError(L10n.t(.srvConfigWhole, name)) }
            return n
        }
        if let v = env["DAIBAN_HOST"], !v.isEmpty { host = v }
        if let v = try int("DAIBAN_PORT") { port = v }
        if let v = env["DAIBAN_DATA"], !v.isEmpty { data = v }
        if let v = env["DAIBAN_TLS_CERT"], !v.isEmpty { tlsCertificate = v }
        if let v = env["DAIBAN_TLS_KEY"], !v.isEmpty { tlsKey = v }
        if let v = try int("DAIBAN_ACCESS_TOKEN_SECONDS") { accessTokenSeconds = v }
        if let v = try int("DAIBAN_BCRYPT_COST") { bcryptCost = v }
        if let v = try int("DAIBAN_PULL_CHUNK_BYTES") { pullChunkBytes = v }
        if let v = try int("DAIBAN_MAX_CLOCK_AHEAD") { maxClockAheadSeconds = v }
        if let v = env["DAIBAN_INSTANCE"], !v.isEmpty { instance = v }
        if let v = env["DAIBAN_DATABASE"], !v.isEmpty { database = v }
    }

    /// Rejects values the server cannot run with.
    public func validate() throws {
        guard (0...65535).contains(port) else { throw ConfigError(L10n.t(.srvConfigRange, "port", "0–65535")) }
        guard (4...31).contains(bcryptCost) else { throw ConfigError(L10n.t(.srvConfigRange, "bcryptCost", "4–31")) }
        guard accessTokenSeconds > 0, refreshTokenSeconds > 0 else { throw ConfigError(L10n.t(.srvConfigRange, "accessTokenSeconds, refreshTokenSeconds", "> 0")) }
        guard pullChunkBytes >= 4096 else { throw ConfigError(L10n.t(.srvConfigRange, "pullChunkBytes", "≥ 4096")) }
        guard maxPushBytes >= pullChunkBytes else { throw ConfigError(L10n.t(.srvConfigRange, "maxPushBytes", "≥ pullChunkBytes")) }
        guard maxClockAheadSeconds >= 1 else { throw ConfigError(L10n.t(.srvConfigRange, "maxClockAheadSeconds", "≥ 1")) }
        guard headerTimeoutSeconds >= 1, readTimeoutSeconds >= 1 else { throw ConfigError(L10n.t(.srvConfigRange, "headerTimeoutSeconds, readTimeoutSeconds", "≥ 1")) }
        guard maxConnections >= 1 else { throw ConfigError(L10n.t(.srvConfigRange, "maxConnections", "≥ 1")) }
        if let database { _ = try PostgresURL.parts(database) }
        if let instance, !Self.isValidInstance(instance) {
            throw ConfigError(L10n.t(.srvConfigRange, "instance", "1–64 letters, digits, '.', '-', '_' or ':'"))
        }
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw ConfigError(L10n.t(.srvConfigTLS))
        }
    }

    /// An instance id fit for a metrics label: 1–64 ASCII letters, digits, `.`, `-`, `_` or `:`.
    static func isValidInstance(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x3A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F
        }
    }

    var replicaPath: String { data + "/replica.sqlite" }
    var accountsPath: String { data + "/accounts.sqlite" }
    var tokenKeyPath: String { data + "/token.key" }
}

/// A configuration mistake, reported before the server starts.
public struct ConfigError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
