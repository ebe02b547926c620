/// What a bearer token of the remote API may do: `read` only GET (and
/// HEAD) requests, `admin` everything.
public enum APIRole: String, Codable, Sendable, CaseIterable {
    case read, admin
}

/// A token as vigild lists it: never its secret (only a hash is stored).
public struct APITokenInfo: Codable, Sendable, Equatable {
    public var name: String
    public var role: APIRole
    /// Seconds since 1970.
    public var createdAt: Double
    /// Seconds since 1970; absent: never expires.
    public var expiresAt: Double?
    public var lastUsedAt: Double?

    public init(name: String, role: APIRole, createdAt: Double, expiresAt: Double?, lastUsedAt: Double?) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
    }
}

/// `POST /v1/tokens` body.
public struct TokenCreateRequest: Codable, Sendable, Equatable {
    public var name: String
    public var role: APIRole
    public var expiresAt: Double?

    public init(name: String, role: APIRole, expiresAt: Double? = nil) {
        self.name = name
        self.role = role
        self.expiresAt = expiresAt
    }
}

/// `POST /v1/tokens` reply: the secret, shown this once.
public struct TokenCreated: Codable, Sendable, Equatable {
    public var token: String
    public var info: APITokenInfo

    public init(token: String, info: APITokenInfo) {
        self.token = token
        self.info = info
    }
}

/// `GET /v1/tokens` body.
public struct TokenList: Codable, Sendable, Equatable {
    public var tokens: [APITokenInfo]
    public init(tokens: [APITokenInfo]) { self.tokens = tokens }
}
