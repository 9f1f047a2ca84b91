public import Hummingbird
import HummingbirdTLS
import HummingbirdCore
import HTTPTypes
import Prometheus
import Foundation
import Logging
import NIOCore
import ReplicaStore
import SyncCore
import SyncProtocol

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
        let router = Router(context: DaibanRequestContext.self)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProtocolMiddleware(logger: logger))
        router.get("/health") { [replica] _, _ in
            try json(["status": "ok", "protocol": SyncAPI.protocolVersion, "replica": replica.id.description])
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        let v1 = router.group("v1")
        v1.post("login") { request, context in
            let body = try await jsonBody(request)
            guard let user = body["user"] as? String, let password = body["password"] as? String,
                  let replicaHex = body["replica"] as? String, let replica = ReplicaID(hex: replicaHex)
            else { throw APIError.badRequest("bad_request", "login needs user, password and a 32-digit replica id") }
            let deviceName = body["device_name"] as? String ?? ""
            let address = context.remoteAddress?.ipAddress ?? "unknown"
            return try self.sessionResponse(
                await self.login(name: user, password: password, replica: replica, deviceName: deviceName,
                                 address: address))
        }
        v1.post("refresh") { request, _ in
            let body = try await jsonBody(request)
            guard let token = body["refresh_token"] as? String else {
                throw APIError.badRequest("bad_request", "refresh needs refresh_token")
            }
            return try self.sessionResponse(await self.refresh(token: token))
        }
        v1.post("push") { request, _ in
            let principal = try await self.authenticate(authorization: request.headers[.authorization])
            let bytes = try await collect(request, upTo: self.config.maxPushBytes)
            let result: PushResult
            do {
                result = try await self.push(bytes, by: principal)
            } catch let e as SyncError {
                self.logger.notice("push rejected", metadata: ["device_id": "\(principal.device.id)", "code": "\(e.code)"])
                throw APIError(Self.sizeCodes.contains(e.code) ? .contentTooLarge : .badRequest, e.code.rawValue, e.message)
            }
            let r = result.report
            return try json([
                "acked": Int(result.acked), "rows": r.rows, "applied": r.applied, "ignored": r.ignored,
                "conflicts_open": r.conflictsAfter, "quarantined": r.quarantined,
            ])
        }
        v1.get("pull") { request, _ in
            let principal = try await self.authenticate(authorization: request.headers[.authorization])
            let afterText = request.uri.queryParameters["after"].map(String.init) ?? "0"
            guard let after = UInt64(afterText) else {
                throw APIError.badRequest("bad_cursor", "after must be a cursor from Daiban-Next")
            }
            let chunk = try await self.pull(after: after, by: principal)
            var headers = HTTPFields()
            headers[.contentType] = SyncAPI.bundleMediaType
            headers[.daibanNext] = String(chunk.next)
            headers[.daibanMore] = chunk.more ? "true" : "false"
            headers[.daibanServerReplica] = self.cursorSpace
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: chunk.bytes)))
        }
        v1.get("devices") { request, _ in
            let principal = try await self.authenticate(authorization: request.headers[.authorization])
            guard principal.user.role.seesDirectory else {
                throw APIError.forbidden("forbidden", "only centre accounts see the device directory")
            }
            let accounts = self.accounts
            let (devices, users) = try await offload { (try accounts.devices(), try accounts.users()) }
            let roles = Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0.role.rawValue) })
            return try json(["devices": devices.map { d -> [String: Any] in
                var o: [String: Any] = ["id": d.id, "user": d.userName, "role": roles[d.userID] ?? "",
                                        "name": d.name, "replica": d.replica.description, "revoked": d.revokedAt != nil]
                if let seen = d.lastSeenAt { o["last_seen_at"] = seen }
                return o
            }])
        }
        v1.get("history") { request, _ in
            let principal = try await self.authenticate(authorization: request.headers[.authorization])
            guard principal.user.role.seesDirectory else {
                throw APIError.forbidden("forbidden", "only centre accounts read the server's audit trail")
            }
            guard let table = request.uri.queryParameters.get("table"), let row = request.uri.queryParameters.get("row"),
                  !table.isEmpty, !row.isEmpty
            else { throw APIError(.badRequest, "bad_request", "history needs table and row") }
            let replica = self.replica
            let entries = try await offload { try replica.audit(table: table, key: row, limit: 10_000) }
            return try json(["entries": entries.map { e -> [String: Any] in
                ["field": e.field, "writer": e.writer.description, "author": e.author, "hlc": e.hlc.rawValue,
                 "via_user": e.viaUser, "via_device": e.viaDevice, "applied_at": e.appliedAt]
            }])
        }
        return router
    }

    static let sizeCodes: Set<SyncError.Code> = [.compressedTooLarge, .decompressedTooLarge, .expansionRatioExceeded]

    private func sessionResponse(_ s: Session) throws -> Response {
        var user: [String: Any] = ["name": s.principal.user.name, "role": s.principal.user.role.rawValue]
        if let t = s.principal.user.township { user["township"] = t }
        if let d = s.principal.user.department { user["department"] = d }
        return try json([
            "access_token": s.access, "access_expires_at": s.accessExpires,
            "refresh_token": s.refresh, "refresh_expires_at": s.refreshExpires,
            "user": user,
            "device": ["id": s.principal.device.id, "name": s.principal.device.name],
            "server_replica": replica.id.description, "protocol": SyncAPI.protocolVersion,
        ])
    }

    /// A runnable application: HTTP (or HTTPS when the config names a certificate) on the configured address.
    /// - Parameter onRunning: called with the bound port once the server accepts connections.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws
        -> some ApplicationProtocol
    {
        let server: HTTPServerBuilder
        if let cert = config.tlsCertificate, let key = config.tlsKey {
            server = try .tls(.http1(), tlsConfiguration: try TLSSupport.configuration(certificate: cert, key: key))
        } else {
            server = .http1()
        }
        return Application(
            router: router(), server: server,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "daiban-server"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}

/// Adds `Daiban-Protocol` to every response, turns away `/v1` requests from other protocol versions, and gives
/// every failure a JSON error body with a code (a framework 404 becomes `not_found`, anything unexpected
/// `internal_error`, logged by type only).
struct ProtocolMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await checked(request, context: context, next: next)
        } catch let e as APIError {
            throw e
        } catch let e as HTTPError {
            let code = e.status == .notFound ? "not_found"
                : e.status == .methodNotAllowed ? "method_not_allowed" : "http_\(e.status.code)"
            throw APIError(e.status, code, e.status == .notFound ? "no such endpoint" : e.status.reasonPhrase)
        } catch {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error_type": "\(type(of: error))"])
            throw APIError(.internalServerError, "internal_error", "the server could not complete the request; see its log")
        }
    }

    private func checked(_ request: Request, context: Context,
                         next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/v1/") {
            let sent = request.headers[.daibanProtocol].flatMap { Int($0) }
            guard let version = sent, version >= SyncAPI.oldestSupported else {
                throw APIError(.upgradeRequired, "upgrade_required",
                               "this server speaks protocol \(SyncAPI.protocolVersion); upgrade the daiban client")
            }
            guard version <= SyncAPI.protocolVersion else {
                throw APIError(.badRequest, "protocol_unsupported",
                               "this server speaks protocol \(SyncAPI.protocolVersion), the client \(version); upgrade the server")
            }
        }
        var response = try await next(request, context)
        response.headers[.daibanProtocol] = String(SyncAPI.protocolVersion)
        return response
    }
}

private func json(_ object: [String: Any]) throws -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
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
        throw APIError(.contentTooLarge, "payload_too_large", "the body is larger than \(limit) bytes")
    }
}

private func jsonBody(_ request: Request) async throws -> [String: Any] {
    let bytes = try await collect(request, upTo: 16 << 10)
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
        throw APIError.badRequest("bad_request", "the body must be a JSON object")
    }
    return object
}
