/// One value of a setting and where it came from, so an error can point
/// at the option or at the file's line.
public struct ConfigEntry: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case string(String), integer(Int), number(Double), list([String])
    }

    public enum Origin: Sendable, Equatable {
        case commandLine
        case file(path: String, line: Int)
    }

    public let value: Value
    public let origin: Origin

    public init(_ value: Value, from origin: Origin) {
        self.value = value
        self.origin = origin
    }

    /// How an error names this setting: `--key`, or `FILE line N: key 'key'`.
    func place(_ key: String) -> String {
        switch origin {
        case .commandLine: "--\(key)"
        case .file(let path, let line): "\(path) line \(line): key '\(key)'"
        }
    }
}

/// The settings one source gave (the config file or the command line):
/// only what it set. `merged(over:)` lays the command line over the file.
public struct ConfigLayer: Sendable, Equatable {
    public private(set) var entries: [String: ConfigEntry] = [:]

    public init(_ entries: [String: ConfigEntry] = [:]) { self.entries = entries }

    public subscript(key: String) -> ConfigEntry? { entries[key] }

    public mutating func set(_ key: String, _ value: ConfigEntry.Value, from origin: ConfigEntry.Origin = .commandLine) {
        entries[key] = ConfigEntry(value, from: origin)
    }

    public mutating func remove(_ key: String) { entries[key] = nil }

    /// This layer's settings, and `base`'s where this one has none.
    public func merged(over base: ConfigLayer) -> ConfigLayer {
        ConfigLayer(base.entries.merging(entries) { _, mine in mine })
    }
}
