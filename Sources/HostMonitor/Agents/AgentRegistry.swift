import Core
import Foundation

/// What vigild knows of each domain's agent, updated by agent sessions and
/// libvirt events, read by the API.
public actor AgentRegistry {
    public struct Entry: Sendable {
        public var state: AgentState
        public var hello: AgentMessage.Hello?
        public var lastHeartbeat: ContinuousClock.Instant?
        public var lastSeq: UInt64?
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    public func entry(_ uuid: String) -> Entry? { entries[uuid] }

    public func set(_ uuid: String, state: AgentState) {
        entries[uuid, default: Entry(state: state)].state = state
    }

    public func helloReceived(_ uuid: String, _ hello: AgentMessage.Hello) {
        var e = entries[uuid, default: Entry(state: .alive)]
        e.state = .alive
        e.hello = hello
        e.lastHeartbeat = .now
        e.lastSeq = nil
        entries[uuid] = e
    }

    /// Records a heartbeat; returns false when it is stale or replayed
    /// (sequence not increasing), which a well-behaved agent never sends.
    public func heartbeat(_ uuid: String, seq: UInt64) -> Bool {
        guard var e = entries[uuid], e.hello != nil else { return false }
        if let last = e.lastSeq, seq <= last { return false }
        e.lastSeq = seq
        e.lastHeartbeat = .now
        e.state = .alive
        entries[uuid] = e
        return true
    }

    public func remove(_ uuid: String) { entries[uuid] = nil }
}
