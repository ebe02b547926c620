import Core
import HTTPTypes
import Hummingbird
import Logging

/// The remote API's gate (the TCP listener only; the unix socket is
/// root-only and needs none): a client certificate signed by
/// `tls-client-ca` (admin), or `Authorization: Bearer TOKEN` whose role
/// allows the request. Every refusal is logged with method, path and reason.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: TokenService
    let logger: Logger

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let identity: TokenService.Identity
        do {
            identity = try authorize(request)
        } catch {
            logger.warning("remote API request refused: \(error.reason)",
                           metadata: ["http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                                      "http.status": "\(error.status.code)"])
            throw error.apiError
        }
        var context = context
        context.logger[metadataKey: "api.identity"] = "\(identity.name)"
        return try await next(request, context)
    }

    func authorize(_ request: Request) throws(AuthRefusal) -> TokenService.Identity {
        let identity: TokenService.Identity
        if let subject = request.headers[AuthHeader.clientCertificate] {
            identity = .init(name: "certificate \(subject)", role: .admin)
        } else if let header = request.headers[.authorization] {
            guard header.lowercased().hasPrefix("bearer "), case let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces),
                  !token.isEmpty else {
                throw AuthRefusal(.unauthorized, "the Authorization header must be 'Bearer TOKEN'",
                                  hint: "vigil --url https://HOST:PORT --token-file FILE sends it")
            }
            identity = try tokens.authenticate(bearer: token)
        } else {
            throw AuthRefusal(.unauthorized, "this API needs a token or a client certificate",
                              hint: "vigil --url https://HOST:PORT --token-file FILE; make a token on the host with 'vigil token create NAME --role read'")
        }
        let reads = request.method == .get || request.method == .head
        let tokenAdmin = request.uri.path.hasPrefix("/v1/tokens")
        if identity.role == .read && (!reads || tokenAdmin) {
            throw AuthRefusal(.forbidden, "\(identity.name) has role read; \(request.method) \(request.uri.path) needs admin",
                              hint: "use an admin token ('vigil token create NAME --role admin')")
        }
        return identity
    }
}

enum AuthHeader {
    /// Set by `ClientCertificateHeader` from the TLS session, never by a client.
    // A literal, valid field name: the initializer cannot fail on it.
    static let clientCertificate = HTTPField.Name("X-Vigil-Client-Certificate")!
}
