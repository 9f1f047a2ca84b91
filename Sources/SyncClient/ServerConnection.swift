import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
public import SyncCore
public import SyncContract
public import SyncProtocol

/// The HTTP protocol version this client speaks (`Daiban-Protocol`, `protocol/SPEC.md` §12).
public let clientProtocolVersion = SyncHTTP.protocolVersion

/// Why talking to the server failed.
public enum SyncClientError: Error, CustomStringConvertible, Sendable {
    /// No connection (refused, DNS, timeout, TLS handshake): local work stays pending.
    case unreachable(String)
    /// The link went silent (no byte for `ServerConnection.stallSeconds`): not retried, since a silent link
    /// would only hold the agent for another stall period; local work stays pending.
    case stalled(String)
    /// The server answered with an error body.
    case server(status: Int, code: String, message: String, retryAfter: Int?)
    /// The server answered something this client cannot read.
    case invalidResponse(String)

    public var description: String {
        switch self {
        case .unreachable(let m), .stalled(let m): return m
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
        case .stalled: return false
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
    /// Whether the server holds this device's signing key (absent in sessions saved by older clients).
    public var keyRegistered: Bool?
}

/// What `POST /v1/push` or `/v1/relay` answered.
public typealias PushAck = PushResponse

/// One `GET /v1/pull` chunk.
public struct PulledChunk: Sendable {
    public var bytes: [UInt8]
    public var next: UInt64
    public var more: Bool
    public var serverReplica: String
}

/// A device in the centre's directory (`GET /v1/devices`).
public typealias DirectoryEntry = DevicesResponse.Entry

/// One server's HTTP endpoints. Holds an `HTTPClient`: call `shutdown()` when done.
public final class ServerConnection: Sendable {
    public let baseURL: String
    let http: HTTPClient
    /// Largest answer accepted (a pull chunk is at most one bundle: `ChangeSetLimits.maxCompressedBytes`).
    let maxChunkBytes = 64 << 20
    /// This device's clock in Unix milliseconds, sent with every request so the centre sees skewed devices.
    let clock: @Sendable () -> UInt64
    /// Seconds of silence after which a request counts as broken (`defaultStallSeconds` unless given).
    public let stallSeconds: Int

    /// - Parameters:
    ///   - url: `http://host:port` or `https://…`.
    ///   - caFile: PEM file of extra trusted roots (a county CA or a self-signed certificate).
    ///   - connectTimeout: seconds to keep trying to connect before the server counts as unreachable.
    ///   - stallSeconds: seconds without a byte after which a request counts as broken.
    ///   - idleSeconds: how long an idle connection is kept for the next request.
    public init(url: String, caFile: String? = nil, connectTimeout: Int64 = 10, stallSeconds: Int = defaultStallSeconds,
                idleSeconds: Int64 = 10,
                clock: @escaping @Sendable () -> UInt64 = { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }) throws {
        baseURL = try Self.validate(url: url)
        self.clock = clock
        self.stallSeconds = max(1, stallSeconds)
        var config = HTTPClient.Configuration()
        // No read timeout: a dead link is told by silence in either direction (`send`), and the client's own read
        // timeout would also end a long upload that still moves.
        config.timeout = .init(connect: .seconds(connectTimeout), read: nil)
        config.redirectConfiguration = .disallow
        // An idle connection is dropped well before the server closes idle ones (30 s unless configured lower), so
        // that a request never goes out on a connection the server is closing at that moment.
        config.connectionPool.idleTimeout = .seconds(idleSeconds)
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

    /// `GET /health`, and the server's clock (Unix milliseconds) when it sent one.
    public func health() async throws -> (HealthResponse, serverTime: UInt64?) {
        let (_, body, headers) = try await send("GET", "/health", body: nil, token: nil)
        // A time outside what a clock can say (before 2000 or after 2200) is no time at all.
        let time = headers.first(name: SyncHTTP.Header.serverTime).flatMap(UInt64.init)
            .flatMap { (946_684_800_000...7_258_118_400_000).contains($0) ? $0 : nil }
        return (try decode(HealthResponse.self, body), time)
    }

    /// Signs in; `signer` (the device key) signs the sign-in, which registers its public half on first login.
    public func login(user: String, password: String, replica: ReplicaID, deviceName: String, signer: DeviceKey?) async throws
        -> SessionTokens
    {
        let time = Int64(clock() / 1000)
        let proof = signer?.sign(LoginRequest.proofMessage(user: user, replica: replica.description, time: time))
        let body = try SyncHTTP.encoder().encode(LoginRequest(user: user, password: password, replica: replica.description,
                                                              deviceName: deviceName, deviceKey: signer.map { hex($0.publicKey) },
                                                              deviceProof: proof.map(hex), proofTime: signer == nil ? nil : time))
        let (_, data, _) = try await send("POST", "/v1/login", body: [UInt8](body), token: nil, json: true)
        return try tokens(data)
    }

    public func refresh(_ refreshToken: String) async throws -> SessionTokens {
        let body = try SyncHTTP.encoder().encode(RefreshRequest(refreshToken: refreshToken))
        let (_, data, _) = try await send("POST", "/v1/refresh", body: [UInt8](body), token: nil, json: true)
        return try tokens(data)
    }

    /// Registers this device's first signing key (`proof`: its own signature), or rotates it (`proof`: the old
    /// key's signature; `seq`: this replica's sequence number at the hand-over).
    public func setDeviceKey(_ key: [UInt8], proof: [UInt8], seq: UInt64, token: String) async throws {
        let body = try SyncHTTP.encoder().encode(DeviceKeyRequest(key: hex(key), proof: hex(proof), seq: seq))
        _ = try await send("POST", "/v1/device/key", body: [UInt8](body), token: token, json: true)
    }

    public func push(_ bundle: [UInt8], token: String) async throws -> PushAck {
        let (_, data, _) = try await send("POST", "/v1/push", body: bundle, token: token)
        return try decode(PushResponse.self, data)
    }

    /// Forwards another device's bundle as it arrived (township and centre accounts).
    public func relay(_ bundle: [UInt8], token: String) async throws -> PushAck {
        let (_, data, _) = try await send("POST", "/v1/relay", body: bundle, token: token)
        return try decode(PushResponse.self, data)
    }

    /// - Parameter includeOwn: ask for this device's own versions too (after it removed rows that may come back).
    /// - Parameter maxBytes: ask for a chunk of about this size at most (the server grants down to 16 KiB).
    public func pull(after cursor: UInt64, token: String, includeOwn: Bool = false, maxBytes: Int? = nil) async throws
        -> PulledChunk
    {
        let query = "after=\(cursor)" + (includeOwn ? "&own=1" : "") + (maxBytes.map { "&max_bytes=\($0)" } ?? "")
        let (_, data, headers) = try await send("GET", "/v1/pull?" + query, body: nil, token: token)
        guard let next = headers.first(name: SyncHTTP.Header.next).flatMap(UInt64.init),
              let more = headers.first(name: SyncHTTP.Header.more),
              let server = headers.first(name: SyncHTTP.Header.serverReplica)
        else { throw SyncClientError.invalidResponse("pull answer without Daiban-Next/More headers") }
        return PulledChunk(bytes: data, next: next, more: more == "true", serverReplica: server)
    }

    /// Rows that left this account's scope after event `after`.
    public func scopeExits(after: Int64, token: String) async throws -> ScopeExitsResponse {
        let (_, data, _) = try await send("GET", "/v1/scope?after=\(after)", body: nil, token: token)
        return try decode(ScopeExitsResponse.self, data)
    }

    public func devices(token: String) async throws -> [DirectoryEntry] {
        let (_, data, _) = try await send("GET", "/v1/devices", body: nil, token: token)
        return try decode(DevicesResponse.self, data).devices
    }

    /// One version the server received for a row (`GET /v1/history`, centre accounts).
    public typealias HistoryEntry = HistoryResponse.Entry

    public func history(table: String, row: String, token: String) async throws -> [HistoryEntry] {
        func q(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
        let (_, data, _) = try await send("GET", "/v1/history?table=\(q(table))&row=\(q(row))", body: nil, token: token)
        return try decode(HistoryResponse.self, data).entries
    }

    // MARK: Transport

    /// How long a link may stay silent before a request counts as broken: `DAIBAN_STALL_SECONDS`, default 30
    /// (a 2G link delivers a chunk's first bytes well within it; the server answers a push after applying it,
    /// which takes a few seconds).
    public static let defaultStallSeconds: Int = {
        ProcessInfo.processInfo.environment["DAIBAN_STALL_SECONDS"].flatMap(Int.init).map { max(1, $0) } ?? 30
    }()

    /// The slowest upload still counted as progress: 2 KiB/s, a third of a bad 2G link.
    static let minimumBytesPerSecond = 2048

    private func send(_ method: String, _ path: String, body: [UInt8]?, token: String?, json: Bool = false) async throws
        -> (Int, [UInt8], HTTPHeaders)
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: SyncHTTP.Header.protocolVersion, value: String(clientProtocolVersion))
        request.headers.add(name: SyncHTTP.Header.clientTime, value: String(clock()))
        request.headers.add(name: "User-Agent", value: "daiban/\(clientProtocolVersion)")
        if let token { request.headers.add(name: "Authorization", value: "Bearer " + token) }
        let progress = TransferProgress(body: body ?? [])
        if body != nil {
            request.headers.add(name: "Content-Type", value: json ? "application/json" : "application/vnd.daiban.bundle")
            request.body = .stream(progress.pieces(), length: .known(Int64(progress.body.count)))
        }
        let response: HTTPClientResponse
        let bytes: [UInt8]
        do {
            // A dead link is told by silence, whatever the phase: the body goes out in pieces, each taken only
            // when the socket has room, and the answer comes in pieces; `stallSeconds` without either ends the
            // request. (The HTTP client's own read timeout would also fire during a long upload that still
            // moves.) The overall deadline only bounds a link that moves slower than 2 KiB/s.
            let transfer = Int64((progress.body.count + (1 << 20)) / Self.minimumBytesPerSecond)
            let deadline = Int64(stallSeconds) * 2 + transfer
            (response, bytes) = try await withThrowingTaskGroup(of: (HTTPClientResponse, [UInt8])?.self) { group in
                group.addTask { [http, request, limit = maxChunkBytes] in
                    let response = try await http.execute(request, timeout: .seconds(deadline))
                    progress.answered()
                    var data = ByteBuffer()
                    for try await piece in response.body {
                        progress.moved()
                        guard data.readableBytes + piece.readableBytes <= limit else { throw AnswerTooLarge() }
                        data.writeImmutableBuffer(piece)
                    }
                    return (response, data.readBytes(length: data.readableBytes) ?? [])
                }
                group.addTask { [stall = stallSeconds] in
                    while !progress.isStalled(seconds: stall) { try await Task.sleep(nanoseconds: 250_000_000) }
                    throw LinkStalled()
                }
                defer { group.cancelAll() }
                while let next = try await group.next() {
                    if let next { return next }
                }
                throw LinkStalled()
            }
        } catch is AnswerTooLarge {
            throw SyncClientError.invalidResponse("an answer larger than \(maxChunkBytes) bytes")
        } catch {
            throw transportError(progress.hasAnswer ? "the connection to \(baseURL) broke: " : "cannot reach \(baseURL): ", error)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let retryAfter = response.headers.first(name: SyncHTTP.Header.retryAfter).flatMap(Int.init)
            if let e = try? SyncHTTP.decoder().decode(ErrorBody.self, from: Data(bytes)) {
                throw SyncClientError.server(status: status, code: e.error.code, message: e.error.message,
                                             retryAfter: retryAfter)
            }
            throw SyncClientError.server(status: status, code: "http_\(status)", message: "HTTP \(status) from \(baseURL)",
                                         retryAfter: retryAfter)
        }
        return (status, bytes, response.headers)
    }

    /// A transport failure as `stalled` when the link went silent, otherwise `unreachable`.
    func transportError(_ prefix: String, _ error: any Error) -> SyncClientError {
        let text = Self.describe(error, stallSeconds: stallSeconds)
        return Self.isSilence(error) ? .stalled(prefix + text) : .unreachable(prefix + text)
    }

    /// Whether a transport failure means the link stopped moving: the watchdog's stall, or a time limit other
    /// than the connection attempt's.
    static func isSilence(_ error: any Error) -> Bool {
        if error is LinkStalled { return true }
        let text = String(describing: error)
        return !text.contains("connectTimeout") && (text.contains("deadlineExceeded") || text.contains("Timeout"))
    }

    /// A transport failure in plain words (the CLI translates these phrases).
    static func describe(_ error: any Error, stallSeconds: Int) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") { return "no answer to the connection attempt" }
        if isSilence(error) { return "the link went silent for \(stallSeconds) s" }
        if text.contains("refused") || text.contains("connectionRefused") { return "connection refused" }
        if text.contains("reset by peer") || text.contains("errno: 104") { return "the connection was cut (reset)" }
        if text.contains("remoteConnectionClosed") || text.contains("Broken pipe") || text.contains("errno: 32")
            || text.contains("ioOnClosedChannel") || text.contains("I/O on closed channel") {
            return "the server closed the connection"
        }
        if text.contains("unreachable") || text.contains("errno: 101") || text.contains("errno: 113") { return "no route to the server" }
        if text.contains("getaddrinfo") || text.contains("nameResolution") || text.contains("NXDOMAIN") { return "the server's name was not found" }
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        do { return try SyncHTTP.decoder().decode(T.self, from: Data(bytes)) } catch {
            throw SyncClientError.invalidResponse("an answer this client cannot read (\(T.self))")
        }
    }

    private func tokens(_ bytes: [UInt8]) throws -> SessionTokens {
        let s = try decode(SessionResponse.self, bytes)
        return SessionTokens(user: s.user.name, role: s.user.role, deviceID: s.device.id, deviceName: s.device.name,
                             accessToken: s.accessToken, accessExpiresAt: s.accessExpiresAt, refreshToken: s.refreshToken,
                             refreshExpiresAt: s.refreshExpiresAt, serverReplica: s.serverReplica,
                             keyRegistered: s.device.keyRegistered)
    }
}

/// Lower-case hex digits of bytes.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// No byte moved either way for `ServerConnection.stallSeconds`.
struct LinkStalled: Error {}

/// An answer over `ServerConnection.maxChunkBytes`.
struct AnswerTooLarge: Error {}

/// When bytes last moved in one request: the body is handed to the HTTP client in 8 KiB pieces (taken as the
/// socket has room), and each piece of the answer counts too.
///
/// Once the last piece is taken, up to `buffered` bytes of it may still wait in this process's and the
/// kernel's send buffers (about 130 KiB on Linux) and leave at the link's pace, so the wait for the answer is
/// allowed the time they need at 4 KB/s (a lossy 2G link) on top of the stall time: at most 32 s more.
final class TransferProgress: Sendable {
    static let pieceBytes = 8 << 10
    static let buffered = 128 << 10
    static let slowLinkBytesPerSecond = 4096
    let body: [UInt8]
    private let state: Mutex<(last: UInt64, uploaded: Bool, answered: Bool)>

    init(body: [UInt8]) {
        self.body = body
        state = Mutex((DispatchTime.now().uptimeNanoseconds, body.isEmpty, false))
    }

    func uploaded() {
        state.withLock {
            $0.last = DispatchTime.now().uptimeNanoseconds
            $0.uploaded = true
        }
    }

    func moved() { state.withLock { $0.last = DispatchTime.now().uptimeNanoseconds } }

    func answered() {
        state.withLock {
            $0.last = DispatchTime.now().uptimeNanoseconds
            $0.answered = true
        }
    }

    var hasAnswer: Bool { state.withLock { $0.answered } }

    /// Whether nothing moved for `seconds` (plus the drain allowance between the upload and the answer).
    func isStalled(seconds: Int) -> Bool {
        let drain = min(body.count, Self.buffered) * 1_000_000_000 / Self.slowLinkBytesPerSecond
        return state.withLock { s in
            let allowed = UInt64(seconds) * 1_000_000_000 + (s.uploaded && !s.answered ? UInt64(drain) : 0)
            return DispatchTime.now().uptimeNanoseconds - s.last > allowed
        }
    }

    func pieces() -> Pieces { Pieces(progress: self) }

    struct Pieces: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let progress: TransferProgress

        func makeAsyncIterator() -> Iterator { Iterator(progress: progress) }

        struct Iterator: AsyncIteratorProtocol {
            let progress: TransferProgress
            var offset = 0

            mutating func next() async -> ByteBuffer? {
                let body = progress.body
                let end = Swift.min(body.count, offset + TransferProgress.pieceBytes)
                guard offset < end else {
                    progress.uploaded()
                    return nil
                }
                progress.moved()
                defer { offset = end }
                return ByteBuffer(bytes: body[offset..<end])
            }
        }
    }
}
