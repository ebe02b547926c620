import Core
import Crypto
import Foundation
import Logging

/// Bearer tokens of the remote API: made (`vigil token create`), listed,
/// revoked, and checked on each TCP request. Only each token's SHA-256 is
/// stored, so a copy of the database gives no token away.
struct TokenService: Sendable {
    let store: StateStore
    let events: EventLog
    var now: @Sendable () -> Date = { Date() }

    static let prefix = "vigil_"

    /// Who a request is: a token's name and role, or a client certificate.
    struct Identity: Sendable, Equatable {
        let name: String
        let role: APIRole
    }

    func create(_ request: TokenCreateRequest) throws -> TokenCreated {
        let name = request.name
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw APIError.badRequest("a token name is 1 to 64 letters, digits, '.', '_' or '-', got '\(name)'",
                                      hint: "name it after who uses it, e.g. 'grafana' or 'alice-laptop'")
        }
        let created = now().timeIntervalSince1970
        if let expires = request.expiresAt, expires <= created {
            throw APIError.badRequest("the expiry must be in the future", hint: "e.g. --expires 30d or an ISO time to come")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()  // getrandom(2) on Linux: fit for secrets
        for i in bytes.indices { bytes[i] = rng.next() }
        let token = Self.prefix + Self.hex(bytes)
        let record = APITokenRecord(name: name, role: request.role.rawValue, sha256: Self.sha256(token),
                                    createdAt: created, expiresAt: request.expiresAt, lastUsedAt: nil)
        guard try store.addToken(record) else {
            throw APIError.conflict("a token named '\(name)' exists", hint: "revoke it first ('vigil token revoke \(name)') or pick another name")
        }
        events.record(kind: "admin", message: "API token '\(name)' created (role \(request.role.rawValue))", action: "token-create")
        return TokenCreated(token: token, info: record.info)
    }

    func list() throws -> TokenList { TokenList(tokens: try store.tokens().map(\.info)) }

    func revoke(name: String) throws -> APITokenInfo {
        guard let record = try store.tokens().first(where: { $0.name == name }), try store.removeToken(name: name) else {
            throw APIError.notFound("no token named '\(name)'", hint: "list them with 'vigil token list'")
        }
        events.record(kind: "admin", message: "API token '\(name)' revoked", action: "token-revoke")
        return record.info
    }

    /// The identity of a bearer token, or why it is refused.
    func authenticate(bearer token: String) throws(AuthRefusal) -> Identity {
        let record: APITokenRecord?
        do {
            record = try store.token(sha256: Self.sha256(token))
        } catch {
            throw AuthRefusal(.serviceUnavailable, "cannot check the token now: \(error)", hint: "see vigild's log")
        }
        guard let record else {
            throw AuthRefusal(.unauthorized, "unknown or revoked token",
                              hint: "create one on the host with 'vigil token create NAME --role read|admin'")
        }
        let time = now().timeIntervalSince1970
        if let expires = record.expiresAt, expires <= time {
            let when = Date(timeIntervalSince1970: expires).ISO8601Format()
            throw AuthRefusal(.unauthorized, "token '\(record.name)' expired at \(when)",
                              hint: "create a new one with 'vigil token create' and revoke this one")
        }
        try? store.markTokenUsed(name: record.name, at: time)
        return Identity(name: record.name, role: APIRole(rawValue: record.role) ?? .read)
    }

    static func sha256(_ token: String) -> String { hex(Array(SHA256.hash(data: Array(token.utf8)))) }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
    }
}
