import Core
import Hummingbird

extension TokenCreated: ResponseEncodable {}
extension TokenList: ResponseEncodable {}
extension APITokenInfo: ResponseEncodable {}

/// `/v1/tokens` (docs/api.md): bearer tokens of the remote API.
enum TokenRoutes {
    static func add(to router: Router<BasicRequestContext>, _ tokens: TokenService) {
        router.get("/v1/tokens") { _, _ in try tokens.list() }
        router.post("/v1/tokens") { request, context in
            try tokens.create(try await RequestBody.decode(TokenCreateRequest.self, request, context,
                                                           hint: "send {\"name\": \"N\", \"role\": \"read\"|\"admin\", \"expiresAt\": EPOCH}"))
        }
        router.delete("/v1/tokens/:name") { _, context in try tokens.revoke(name: try context.parameters.decoded("name")) }
    }
}
