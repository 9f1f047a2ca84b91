import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
public import SyncCore

/// The HTTP protocol version this client speaks (`Daiban-Protocol`, `protocol/SPEC.md` §12).
public let clientProtocolVersion = 1

/// Why talking to the server failed.
public enum SyncClientError: Error, CustomStringConvertible, Sendable {
    /// No connection (refused, DNS, timeout, TLS handshake): local work stays pending.
    case unreachable(String)
    /// The server answered with an error body.
    case server(status: Int, code: String, message: String, retryAfter: Int?)
    /// The server answered something this client cannot read.
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .unreachable(let m): return m
        case .server(_, let code, let message, _): return "\(message) [\(code)]"
        case .invalidResponse(let m): return "unexpected answer from the server: \(m)"
        }
    }

    /// The server's error code, if it sent one.
    public var code: String? {
        if case .server(_, let code, _, _) = self { return code }
        return nil
    }

    /// Worth retrying after a pause: no connection, overload, or a server-side failure.
    public var isTransient: Bool {
        switch self {
        case .unreachable: return true
        case .server(let status, _, _, _): return status == 429 || status == 502 || status == 503 || status == 504
            || status == 500
        case .invalidResponse: return false
        }
    }
}

/// Tokens and identity from `POST /v1/login` or `/v1/refresh`.
public struct SessionTokens: Codable, Sendable, Equatable {
    public var user: String
    public var role: String
    public var deviceID: Int64
    public var deviceName: String
    public var accessToken: String
    /// Unix seconds.
    public var accessExpiresAt: Int64
    public var refreshToken: String
    public var refreshExpiresAt: Int64
    public var serverReplica: String
}

/// What `POST /v1/push` answered.
public struct PushAck: Sendable {
    public var acked: UInt64
    public var applied: Int
    public var ignored: Int
    public var conflictsOpen: Int
    /// Versions the server refused to merge (not this user's to write) and kept for the centre's review.
    public var quarantined: Int = 0
}

/// One `GET /v1/pull` chunk.
public struct PulledChunk: Sendable {
    public var bytes: [UInt8]
    public var next: UInt64
    public var more: Bool
    public var serverReplica: String
}

/// A device in the centre's directory (`GET /v1/devices`).
public struct DirectoryEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var user: String
    public var role: String
    public var name: String
    public var replica: String
}

/// One server's HTTP endpoints. Holds an `HTTPClient`: call `shutdown()` when done.
public final class ServerConnection: Sendable {
    public let baseURL: String
    let http: HTTPClient
    /// Largest answer accepted (a pull chunk is at most one bundle: `ChangeSetLimits.maxCompressedBytes`).
    let maxChunkBytes = 64 << 20

    /// - Parameters:
    ///   - url: `http://host:port` or `https://…`.
    ///   - caFile: PEM file of extra trusted roots (a county CA or a self-signed certificate).
    ///   - connectTimeout: seconds to keep trying to connect before the server counts as unreachable.
    public init(url: String, caFile: String? = nil, connectTimeout: Int64 = 10) throws {
        baseURL = try Self.validate(url: url)
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(connectTimeout), read: .seconds(120))
        config.redirectConfiguration = .disallow
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(caFile)]
            config.tlsConfiguration = tls
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// The URL without a trailing slash, or an error when it is not http(s)://host[:port].
    public static func validate(url: String) throws -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
              parsed.host != nil
        else { throw SyncClientError.invalidResponse("\(url) is not an http:// or https:// address") }
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Endpoints

    public func health() async throws -> [String: Any] {
        let (_, body, _) = try await send("GET", "/health", body: nil, token: nil)
        return try object(body)
    }

    public func login(user: String, password: String, replica: ReplicaID, deviceName: String) async throws
        -> SessionTokens
    {
        let body = try JSONSerialization.data(withJSONObject: [
            "user": user, "password": password, "replica": replica.description, "device_name": deviceName,
        ])
        let (_, data, _) = try await send("POST", "/v1/login", body: [UInt8](body), token: nil, json: true)
        return try tokens(data)
    }

    public func refresh(_ refreshToken: String) async throws -> SessionTokens {
        let body = try JSONSerialization.data(withJSONObject: ["refresh_token": refreshToken])
        let (_, data, _) = try await send("POST", "/v1/refresh", body: [UInt8](body), token: nil, json: true)
        return try tokens(data)
    }

    public func push(_ bundle: [UInt8], token: String) async throws -> PushAck {
        let (_, data, _) = try await send("POST", "/v1/push", body: bundle, token: token)
        let o = try object(data)
        guard let acked = o["acked"] as? Int else { throw SyncClientError.invalidResponse("push answer without acked") }
        return PushAck(acked: UInt64(acked), applied: o["applied"] as? Int ?? 0, ignored: o["ignored"] as? Int ?? 0,
                       conflictsOpen: o["conflicts_open"] as? Int ?? 0, quarantined: o["quarantined"] as? Int ?? 0)
    }

    public func pull(after cursor: UInt64, token: String) async throws -> PulledChunk {
        let (_, data, headers) = try await send("GET", "/v1/pull?after=\(cursor)", body: nil, token: token)
        guard let next = headers.first(name: "Daiban-Next").flatMap(UInt64.init),
              let more = headers.first(name: "Daiban-More"), let server = headers.first(name: "Daiban-Server-Replica")
        else { throw SyncClientError.invalidResponse("pull answer without Daiban-Next/More headers") }
        return PulledChunk(bytes: data, next: next, more: more == "true", serverReplica: server)
    }

    public func devices(token: String) async throws -> [DirectoryEntry] {
        let (_, data, _) = try await send("GET", "/v1/devices", body: nil, token: token)
        guard let list = try object(data)["devices"] as? [[String: Any]] else {
            throw SyncClientError.invalidResponse("devices answer without a list")
        }
        return list.compactMap { d in
            guard let id = d["id"] as? Int, let replica = d["replica"] as? String else { return nil }
            return DirectoryEntry(id: Int64(id), user: d["user"] as? String ?? "", role: d["role"] as? String ?? "",
                                  name: d["name"] as? String ?? "", replica: replica)
        }
    }

    /// One version the server received for a row (`GET /v1/history`, centre accounts).
    public struct HistoryEntry: Sendable {
        public var field: String
        public var writer: String
        public var author: String
        public var hlc: UInt64
        public var viaUser: String
        public var viaDevice: String
        /// Unix milliseconds when the server applied it.
        public var appliedAt: UInt64
    }

    public func history(table: String, row: String, token: String) async throws -> [HistoryEntry] {
        func q(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
        let (_, data, _) = try await send("GET", "/v1/history?table=\(q(table))&row=\(q(row))", body: nil, token: token)
        guard let list = try object(data)["entries"] as? [[String: Any]] else {
            throw SyncClientError.invalidResponse("history answer without entries")
        }
        return list.map { e in
            HistoryEntry(field: e["field"] as? String ?? "", writer: e["writer"] as? String ?? "",
                         author: e["author"] as? String ?? "", hlc: (e["hlc"] as? NSNumber)?.uint64Value ?? 0,
                         viaUser: e["via_user"] as? String ?? "", viaDevice: "\(e["via_device"] ?? "")",
                         appliedAt: (e["applied_at"] as? NSNumber)?.uint64Value ?? 0)
        }
    }

    // MARK: Transport

    private func send(_ method: String, _ path: String, body: [UInt8]?, token: String?, json: Bool = false) async throws
        -> (Int, [UInt8], HTTPHeaders)
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Daiban-Protocol", value: String(clientProtocolVersion))
        request.headers.add(name: "User-Agent", value: "daiban/\(clientProtocolVersion)")
        if let token { request.headers.add(name: "Authorization", value: "Bearer " + token) }
        if let body {
            request.headers.add(name: "Content-Type", value: json ? "application/json" : "application/vnd.daiban.bundle")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        var data: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(300))
        } catch {
            throw SyncClientError.unreachable("cannot reach \(baseURL): \(Self.describe(error))")
        }
        do {
            data = try await response.body.collect(upTo: maxChunkBytes)
        } catch let e as NIOTooManyBytesError {
            throw SyncClientError.invalidResponse("an answer larger than \(maxChunkBytes) bytes (\(e))")
        } catch {
            throw SyncClientError.unreachable("the connection to \(baseURL) broke: \(Self.describe(error))")
        }
        let bytes = data.readBytes(length: data.readableBytes) ?? []
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init)
            if let o = try? object(bytes), let e = o["error"] as? [String: Any], let code = e["code"] as? String {
                throw SyncClientError.server(status: status, code: code, message: e["message"] as? String ?? code,
                                             retryAfter: retryAfter)
            }
            throw SyncClientError.server(status: status, code: "http_\(status)", message: "HTTP \(status) from \(baseURL)",
                                         retryAfter: retryAfter)
        }
        return (status, bytes, response.headers)
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("Timeout") { return "timed out" }
        if text.contains("refused") || text.contains("connectionRefused") { return "connection refused" }
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }

    private func object(_ bytes: [UInt8]) throws -> [String: Any] {
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw SyncClientError.invalidResponse("not a JSON object")
        }
        return o
    }

    private func tokens(_ bytes: [UInt8]) throws -> SessionTokens {
        let o = try object(bytes)
        guard let access = o["access_token"] as? String, let refresh = o["refresh_token"] as? String,
              let accessExp = o["access_expires_at"] as? Int, let refreshExp = o["refresh_expires_at"] as? Int,
              let user = o["user"] as? [String: Any], let device = o["device"] as? [String: Any],
              let server = o["server_replica"] as? String
        else { throw SyncClientError.invalidResponse("login answer is missing fields") }
        return SessionTokens(user: user["name"] as? String ?? "", role: user["role"] as? String ?? "",
                             deviceID: Int64(device["id"] as? Int ?? 0), deviceName: device["name"] as? String ?? "",
                             accessToken: access, accessExpiresAt: Int64(accessExp), refreshToken: refresh,
                             refreshExpiresAt: Int64(refreshExp), serverReplica: server)
    }
}
