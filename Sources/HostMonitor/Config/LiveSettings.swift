import Logging
import Synchronization

/// The settings a SIGHUP changes while vigild runs (keys marked `live` in
/// `ConfigKeys`); their readers look them up each time they use them.
public final class LiveSettings: Sendable {
    public struct Values: Sendable, Equatable {
        public var logLevel: Logger.Level
        public var eventRetentionDays: Double
        public var eventMaxCount: Int
    }

    private let values: Mutex<Values>

    public init(_ config: DaemonConfig) {
        values = Mutex(Values(logLevel: config.logLevel, eventRetentionDays: config.eventRetentionDays,
                              eventMaxCount: config.eventMaxCount))
    }

    public var current: Values { values.withLock { $0 } }

    public func apply(_ config: DaemonConfig) {
        values.withLock {
            $0 = Values(logLevel: config.logLevel, eventRetentionDays: config.eventRetentionDays,
                        eventMaxCount: config.eventMaxCount)
        }
    }
}

/// A log handler whose level follows `LiveSettings` (so `log-level` can be
/// changed by a SIGHUP), unless a logger sets its own.
public struct ReloadableLogHandler: LogHandler {
    private var base: StreamLogHandler
    private let live: LiveSettings
    private var override: Logger.Level?

    public init(label: String, live: LiveSettings) {
        base = StreamLogHandler.standardError(label: label)
        self.live = live
    }

    public var logLevel: Logger.Level {
        get { override ?? live.current.logLevel }
        set { override = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        base.log(event: event)
    }
}
