/// `POST /v1/agent-repo` body.
public struct RepoAddRequest: Codable, Sendable {
    public var path: String
    public init(path: String) { self.path = path }
}

/// `POST /v1/agents/upgrade` body: every VM with a connected agent, `batch` at a time.
public struct UpgradeAllRequest: Codable, Sendable {
    public var batch: Int
    public init(batch: Int) { self.batch = batch }
}
