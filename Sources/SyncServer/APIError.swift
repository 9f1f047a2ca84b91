public import Hummingbird
public import HTTPTypes
import Foundation
import SyncContract

/// An error response: an HTTP status and a stable machine-readable code (`protocol/SPEC.md` §12.4) with a
/// message for people. Bodies look like `{"error":{"code":"token_expired","message":"…"}}`.
public struct APIError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Seconds a client should wait (429).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.daibanProtocol] = String(SyncHTTP.protocolVersion)
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = try SyncHTTP.encoder().encode(ErrorBody(code: code, message: message))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func unauthenticated(_ message: String = "sign in first: send Authorization: Bearer <access token>") -> APIError {
        APIError(.unauthorized, "unauthenticated", message)
    }
    static func forbidden(_ code: String, _ message: String) -> APIError { APIError(.forbidden, code, message) }
    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }
}

extension HTTPField.Name {
    static let daibanProtocol = HTTPField.Name(SyncHTTP.Header.protocolVersion)!
    static let daibanNext = HTTPField.Name(SyncHTTP.Header.next)!
    static let daibanMore = HTTPField.Name(SyncHTTP.Header.more)!
    static let daibanServerReplica = HTTPField.Name(SyncHTTP.Header.serverReplica)!
    static let daibanServerTime = HTTPField.Name(SyncHTTP.Header.serverTime)!
    static let daibanClientTime = HTTPField.Name(SyncHTTP.Header.clientTime)!
}
