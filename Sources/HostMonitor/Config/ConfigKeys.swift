/// Every setting of vigild: its key in `vigild.yaml`, which is also its
/// command-line option (`connect` ⇄ `--connect`), the kind of value it
/// takes, and whether a SIGHUP applies a change to it without a restart.
public struct ConfigKey: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string, integer, number
        /// A repeatable option: a YAML sequence (or one scalar) in the file.
        case list
    }

    public let name: String
    public let kind: Kind
    /// Applied by SIGHUP (the rest needs a restart; vigild says which).
    public let live: Bool

    init(_ name: String, _ kind: Kind, live: Bool = false) {
        self.name = name
        self.kind = kind
        self.live = live
    }
}

public enum ConfigKeys {
    public static let all: [ConfigKey] = [
        .init("connect", .string),
        .init("state-dir", .string),
        .init("socket", .string),
        .init("peer", .list),
        .init("shared-storage", .list),
        .init("default-on-crash", .string),
        .init("default-heartbeat-interval", .number),
        .init("default-misses", .integer),
        .init("default-min-uptime", .integer),
        .init("default-max-resets", .integer),
        .init("default-window", .integer),
        .init("time-sync-interval", .integer),
        .init("agent-trust-key", .list),
        .init("agent-upgrade-timeout", .integer),
        .init("recycle-retention-days", .number),
        .init("recycle-retention-seconds", .number),
        .init("event-retention-days", .number, live: true),
        .init("event-max-count", .integer, live: true),
        .init("copy-rate-limit", .integer),
        .init("template-dir", .string),
        .init("backup-destination", .string),
        .init("backup-temp-dir", .string),
        .init("backup-ssh-identity", .string),
        .init("backup-ssh-known-hosts", .string),
        .init("vm-dir", .string),
        .init("log-level", .string, live: true),
        .init("metrics-address", .string),
        .init("api-address", .string),
        .init("tls-cert", .string),
        .init("tls-key", .string),
        .init("tls-client-ca", .string),
        .init("cluster-endpoints", .list),
        .init("cluster-name", .string),
        .init("cluster-host", .string),
        .init("cluster-lease-ttl", .integer),
        .init("cluster-memory", .integer),
    ]

    public static func named(_ name: String) -> ConfigKey? { all.first { $0.name == name } }

    /// The known key nearest to a misspelt one, for the error's hint.
    static func nearest(to name: String) -> String? {
        let scored = all.map { ($0.name, editDistance(Array(name), Array($0.name))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, name.count / 3) else { return nil }
        return best.0
    }

    /// Levenshtein distance, one row at a time.
    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var diagonal = row[0]
            row[0] = i + 1
            for (j, cb) in b.enumerated() {
                let above = row[j + 1]
                row[j + 1] = Swift.min(above + 1, row[j] + 1, diagonal + (ca == cb ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }
}
