import Core
import Hummingbird

/// Why the remote API refuses a request before it reaches any route: the
/// status (401 who are you, 403 not allowed), what was wrong, what to do.
struct AuthRefusal: Error, CustomStringConvertible {
    let status: HTTPResponse.Status
    let reason: String
    let hint: String

    init(_ status: HTTPResponse.Status, _ reason: String, hint: String) {
        self.status = status
        self.reason = reason
        self.hint = hint
    }

    var description: String { reason }
    var apiError: APIError { APIError(status, reason, hint: hint) }
}
