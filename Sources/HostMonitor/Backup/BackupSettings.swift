/// vigild's backup settings (`--backup-*`).
public struct BackupSettings: Sendable {
    /// Where a backup goes when its request names no destination.
    public var destination: String?
    /// Scratch space: images on their way to a remote, compressed or
    /// rate-limited destination, and chains fetched for a restore.
    public var tempDirectory: String
    public var ssh: SSHSettings

    public init(destination: String? = nil, tempDirectory: String = "/var/lib/vigil/backup-tmp", ssh: SSHSettings = .init()) {
        self.destination = destination
        self.tempDirectory = tempDirectory
        self.ssh = ssh
    }
}

/// How vigild reaches ssh:// destinations: by key only, never a prompt.
public struct SSHSettings: Sendable, Equatable {
    public var identity: String?
    public var knownHosts: String?

    public init(identity: String? = nil, knownHosts: String? = nil) {
        self.identity = identity
        self.knownHosts = knownHosts
    }
}
