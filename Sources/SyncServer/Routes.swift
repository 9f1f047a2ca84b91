public import Hummingbird
import HummingbirdTLS
import HummingbirdCore
import HTTPTypes
import Prometheus
import Foundation
import Logging
import NIOCore
import ReplicaStore
import GRDB
import SyncCore
import SyncProtocol
import SyncContract
import CaseDomain

/// Request context that remembers the peer address (for per-address login limits).
public struct DaibanRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

extension DaibanServer {
    /// The HTTP routes (`protocol/SPEC.md` §12).
    public func router() -> Router<DaibanRequestContext> {
        let registry = Metrics.registry
        Metrics.announce(instance: config.instance ?? Metrics.hostName())
        let router = Router(context: DaibanRequestContext.self)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProtocolMiddleware(logger: logger, clock: wallClock))
        router.get("/health") { [replica] _, _ in
            // On a shared database: healthy only while this instance's copy follows the log (a load balancer then
            // sends the requests to the others).
            if replica.log != nil { try await offload { try replica.catchUp() } }
            return try json(HealthResponse(status: "ok", protocol: SyncHTTP.protocolVersion, replica: replica.id.description))
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        let v1 = router.group("v1")
        v1.post("login") { request, context in
            let body = try await jsonBody(LoginRequest.self, request)
            guard let replica = ReplicaID(hex: body.replica) else {
                throw APIError.badRequest(ErrorCode.badRequest, "login needs user, password and a 32-digit replica id")
            }
            var key: [UInt8]?
            if let hex = body.deviceKey {
                guard let k = hexBytes(hex), k.count == 32 else {
                    throw APIError.badRequest(ErrorCode.badRequest, "device_key must be 64 hex digits")
                }
                key = k
            }
            let address = LoginLimiter.addressKey(context.remoteAddress?.ipAddress ?? "unknown")
            return try self.sessionResponse(
                await self.login(name: body.user, password: body.password, replica: replica,
                                 deviceName: body.deviceName ?? "", deviceKey: key,
                                 proof: body.deviceProof.flatMap(hexBytes), proofTime: body.proofTime, address: address))
        }
        v1.post("refresh") { request, _ in
            let body = try await jsonBody(RefreshRequest.self, request)
            return try self.sessionResponse(await self.refresh(token: body.refreshToken))
        }
        v1.post("push") { request, _ in
            let principal = try await self.authenticate(request)
            let bytes = try await collect(request, upTo: self.config.maxPushBytes)
            return try self.pushResponse(await self.bundleErrors(principal) { try await self.push(bytes, by: principal) })
        }
        v1.post("relay") { request, _ in
            let principal = try await self.authenticate(request)
            let bytes = try await collect(request, upTo: self.config.maxPushBytes)
            return try self.pushResponse(await self.bundleErrors(principal) { try await self.relay(bytes, by: principal) })
        }
        v1.get("pull") { request, _ in
            let principal = try await self.authenticate(request)
            let afterText = request.uri.queryParameters["after"].map(String.init) ?? "0"
            guard let after = UInt64(afterText) else {
                throw APIError.badRequest(ErrorCode.badCursor, "after must be a cursor from Daiban-Next")
            }
            // A device that removed rows (their case left its scope) asks for its own versions too: when the case comes
            // back, what it wrote before must come back with it.
            let own = request.uri.queryParameters["own"].map(String.init) == "1"
            // A device on a slow or flaky link asks for smaller chunks, so that each gets through between cuts.
            var maxBytes: Int?
            if let text = request.uri.queryParameters["max_bytes"].map(String.init) {
                guard let n = Int(text), n > 0 else {
                    throw APIError.badRequest(ErrorCode.badParameter, "max_bytes must be a positive number of bytes")
                }
                maxBytes = n
            }
            let chunk = try await self.pull(after: after, by: principal, includeOwn: own, maxBytes: maxBytes)
            var headers = HTTPFields()
            headers[.contentType] = SyncHTTP.bundleMediaType
            headers[.daibanNext] = String(chunk.next)
            headers[.daibanMore] = chunk.more ? "true" : "false"
            headers[.daibanServerReplica] = self.cursorSpace
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: chunk.bytes)))
        }
        v1.get("scope") { request, _ in
            let principal = try await self.authenticate(request)
            let afterText = request.uri.queryParameters["after"].map(String.init) ?? "0"
            guard let after = Int64(afterText), after >= 0 else {
                throw APIError.badRequest(ErrorCode.badCursor, "after must be a number from an earlier answer's next")
            }
            return try json(await self.scopeExits(after: after, by: principal))
        }
        v1.post("device/key") { request, _ in
            let principal = try await self.authenticate(request)
            let body = try await jsonBody(DeviceKeyRequest.self, request)
            guard let key = hexBytes(body.key) else { throw APIError.badRequest(ErrorCode.badRequest, "key must be hex") }
            try await self.setDeviceKey(key, proof: body.proof.flatMap(hexBytes), seq: body.seq, by: principal)
            return try json(["status": "ok"])
        }
        v1.get("devices") { request, _ in
            let principal = try await self.authenticate(request)
            guard principal.user.role.seesDirectory else {
                throw APIError.forbidden(ErrorCode.forbidden, "only centre accounts see the device directory")
            }
            let accounts = self.accounts
            let (devices, users) = (try await accounts.devices(), try await accounts.users())
            let roles = Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0.role.rawValue) })
            return try json(DevicesResponse(devices: devices.map { d in
                .init(id: d.id, user: d.userName, role: roles[d.userID] ?? "", name: d.name, replica: d.replica.description,
                      revoked: d.revokedAt != nil, lastSeenAt: d.lastSeenAt, clockSkewSeconds: d.clockSkewMillis.map { $0 / 1000 },
                      keyFingerprint: d.keyFingerprint)
            }))
        }
        v1.get("history") { request, _ in
            let principal = try await self.authenticate(request)
            guard principal.user.role.seesDirectory else {
                throw APIError.forbidden(ErrorCode.forbidden, "only centre accounts read the server's audit trail")
            }
            guard let table = request.uri.queryParameters.get("table"), let row = request.uri.queryParameters.get("row"),
                  !table.isEmpty, !row.isEmpty
            else { throw APIError(.badRequest, ErrorCode.badRequest, "history needs table and row") }
            let replica = self.replica
            let entries = try await offload {
                try replica.catchUp()
                return try replica.audit(table: table, key: row, limit: 10_000)
            }
            return try json(HistoryResponse(entries: entries.map { e in
                .init(field: e.field, writer: e.writer.description, author: e.author, hlc: e.hlc.rawValue,
                      viaUser: e.viaUser, viaDevice: e.viaDevice, appliedAt: e.appliedAt)
            }))
        }
        return router
    }

    static let sizeCodes: Set<SyncError.Code> = [.compressedTooLarge, .decompressedTooLarge, .expansionRatioExceeded]

    /// The bearer token of a request, and the client's clock when it sent one.
    private func authenticate(_ request: Request) async throws -> Principal {
        try await authenticate(authorization: request.headers[.authorization],
                               clientTime: request.headers[.daibanClientTime].flatMap { Int64($0) })
    }

    /// Bundle errors as 400 (413 for sizes), with their §9 code; nothing was applied.
    private func bundleErrors(_ principal: Principal, _ body: () async throws -> PushResult) async throws -> PushResult {
        do {
            return try await body()
        } catch let e as SyncError {
            logger.notice("push rejected", metadata: ["device_id": "\(principal.device.id)", "code": "\(e.code)"])
            throw APIError(Self.sizeCodes.contains(e.code) ? .contentTooLarge : .badRequest, e.code.rawValue, e.message)
        }
    }

    private func pushResponse(_ result: PushResult) throws -> Response {
        let r = result.report
        return try json(PushResponse(
            acked: result.acked, rows: r.rows, applied: r.applied, ignored: r.ignored, conflictsOpen: r.conflictsAfter,
            quarantined: r.rejections.count,
            rejected: r.rejections.map {
                RejectionInfo(table: $0.table, key: $0.key, field: $0.field, writer: $0.version.writer.description,
                              hlc: $0.version.hlc.rawValue, reason: $0.rejection.reason.rawValue,
                              message: $0.rejection.message)
            },
            current: result.current.map { Data($0).base64EncodedString() }))
    }

    private func sessionResponse(_ s: Session) throws -> Response {
        let u = s.principal.user
        return try json(SessionResponse(
            accessToken: s.access, accessExpiresAt: s.accessExpires, refreshToken: s.refresh,
            refreshExpiresAt: s.refreshExpires,
            user: .init(name: u.name, role: u.role.rawValue, township: u.township, department: u.department),
            device: .init(id: s.principal.device.id, name: s.principal.device.name,
                          keyRegistered: s.principal.device.publicKey != nil),
            serverReplica: replica.id.description, protocol: SyncHTTP.protocolVersion))
    }

    /// A runnable application: HTTP (or HTTPS when the config names a certificate) on the configured address.
    /// - Parameter onRunning: called with the bound port once the server accepts connections.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws
        -> some ApplicationProtocol
    {
        let header = TimeAmount.seconds(Int64(config.headerTimeoutSeconds))
        let read = TimeAmount.seconds(Int64(config.readTimeoutSeconds))
        let http = HTTPServerBuilder.http1(configuration: .init(
            additionalChannelHandlers: [ConnectionTimeouts(headerTimeout: header, readTimeout: read)]))
        let server: HTTPServerBuilder
        if let cert = config.tlsCertificate, let key = config.tlsKey {
            server = try .tls(http, tlsConfiguration: try TLSSupport.configuration(certificate: cert, key: key))
        } else {
            server = http
        }
        return Application(
            router: router(), server: server,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "daiban-server",
                                 availableConnectionsDelegate: MaximumAvailableConnections(config.maxConnections, logger: logger)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}

/// Adds `Daiban-Protocol` to every response, turns away `/v1` requests from other protocol versions, and gives
/// every failure a JSON error body with a code (a framework 404 becomes `not_found`, anything unexpected
/// `internal_error`, logged by type only).
struct ProtocolMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    let clock: @Sendable () -> UInt64

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await checked(request, context: context, next: next)
        } catch let e as APIError {
            throw e
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw APIError(.contentTooLarge, ErrorCode.payloadTooLarge, "the body is larger than this server accepts")
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, ErrorCode.payloadTooLarge, "the body is larger than this server accepts")
        } catch let e as HTTPError {
            let code = e.status == .notFound ? "not_found"
                : e.status == .methodNotAllowed ? "method_not_allowed" : "http_\(e.status.code)"
            throw APIError(e.status, code, e.status == .notFound ? "no such endpoint" : e.status.reasonPhrase)
        } catch {
            var metadata: Logger.Metadata = ["path": "\(request.uri.path)", "error_type": "\(type(of: error))"]
            // SQLite's own message names tables and constraints, never values (statement arguments stay private).
            if let db = error as? DatabaseError {
                metadata["sqlite_code"] = "\(db.extendedResultCode.rawValue)"
                metadata["sqlite_message"] = "\(db.message ?? "")"
            }
            // A shared log's mismatch names positions, tables and SQLite codes, never values.
            if let mismatch = error as? ReplicaLogMismatch { metadata["reason"] = "\(mismatch.description)" }
            logger.error("request failed", metadata: metadata)
            if error is ReplicaLogMismatch {
                throw APIError(.serviceUnavailable, ErrorCode.replicaUnavailable,
                               "this server instance's copy of the replica cannot follow the database; another instance serves, and this one is rebuilt when restarted")
            }
            if let db = error as? DatabaseError, db.resultCode == .SQLITE_FULL {
                throw APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), ErrorCode.storageFull,
                               "the server's disk is full: nothing of this request was kept; send it again later")
            }
            throw APIError(.internalServerError, "internal_error", "the server could not complete the request; see its log")
        }
    }

    private func checked(_ request: Request, context: Context,
                         next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/v1/") {
            let sent = request.headers[.daibanProtocol].flatMap { Int($0) }
            guard let version = sent, version >= SyncHTTP.oldestSupported else {
                throw APIError(.upgradeRequired, "upgrade_required",
                               "this server speaks protocol \(SyncHTTP.protocolVersion); upgrade the daiban client")
            }
            guard version <= SyncHTTP.protocolVersion else {
                throw APIError(.badRequest, "protocol_unsupported",
                               "this server speaks protocol \(SyncHTTP.protocolVersion), the client \(version); upgrade the server")
            }
        }
        var response = try await next(request, context)
        response.headers[.daibanProtocol] = String(SyncHTTP.protocolVersion)
        response.headers[.daibanServerTime] = String(clock())
        return response
    }
}

private func json(_ value: some Encodable) throws -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    let data = try SyncHTTP.encoder().encode(value)
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Bytes from hex digits, or nil.
func hexBytes(_ hex: String) -> [UInt8]? {
    let digits = Array(hex.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let b = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}

/// Reads a body up to `limit` bytes, or fails with 413 `payload_too_large` without reading the rest.
private func collect(_ request: Request, upTo limit: Int) async throws -> [UInt8] {
    if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
        throw APIError(.contentTooLarge, "payload_too_large", "the body is \(length) bytes; the limit is \(limit)")
    }
    do {
        var buffer = try await request.body.collect(upTo: limit)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    } catch let e as HTTPError where e.status == .contentTooLarge {
        throw APIError(.contentTooLarge, ErrorCode.payloadTooLarge, "the body is larger than \(limit) bytes")
    } catch is NIOTooManyBytesError {
        throw APIError(.contentTooLarge, ErrorCode.payloadTooLarge, "the body is larger than \(limit) bytes")
    }
}

private func jsonBody<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
    let bytes = try await collect(request, upTo: SyncHTTP.maxJSONBody)
    guard (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any] else {
        throw APIError.badRequest(ErrorCode.badRequest, "the body must be a JSON object")
    }
    do {
        return try SyncHTTP.decoder().decode(T.self, from: Data(bytes))
    } catch {
        throw APIError.badRequest(ErrorCode.badRequest, "the body lacks a required field or has one of the wrong type")
    }
}
