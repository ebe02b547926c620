import Core
import Foundation
import Hummingbird

/// An API failure with what went wrong and what to do, sent as
/// `{"error": "...", "hint": "..."}` with a fitting status.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let body: APIErrorBody

    public init(_ status: HTTPResponse.Status, _ error: String, hint: String? = nil) {
        self.status = status
        self.body = APIErrorBody(error: error, hint: hint)
    }

    static func unavailable(_ error: String, hint: String) -> APIError { APIError(.serviceUnavailable, error, hint: hint) }
    static func notFound(_ error: String, hint: String) -> APIError { APIError(.notFound, error, hint: hint) }
    static func conflict(_ error: String, hint: String) -> APIError { APIError(.conflict, error, hint: hint) }
    static func badRequest(_ error: String, hint: String) -> APIError { APIError(.badRequest, error, hint: hint) }

    public var description: String { body.error }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(body)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
