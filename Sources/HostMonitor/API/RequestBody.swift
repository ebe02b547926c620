import Foundation
import Hummingbird

/// Request bodies of the API: JSON that does not parse is refused with the
/// decoder's reason and what to send, never read as "no options".
enum RequestBody {
    /// `expected` shows the body's shape in the refusal, for bodies small
    /// enough to write out.
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: BasicRequestContext,
                                     expected: String? = nil, hint: String) async throws -> T {
        do {
            return try await request.decode(as: type, context: context)
        } catch {
            throw APIError.badRequest("the body is not valid for this request: \(error)" + (expected.map { "; send \($0)" } ?? ""),
                                      hint: hint)
        }
    }

    /// A body that may be left out (nil): options with defaults.
    static func decodeOptional<T: Decodable>(_ type: T.Type, _ request: Request, _ context: BasicRequestContext,
                                             expected: String? = nil, hint: String) async throws -> T? {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("the body is not valid for this request: \(error)" + (expected.map { "; send \($0)" } ?? ""),
                                      hint: hint)
        }
    }
}
