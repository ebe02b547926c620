import Core

/// Every VM vigild watches, with its protection state machine and what its
/// agent last said. Agent sessions, libvirt events and the ticker all go
/// through this actor, so each VM's decisions are serialised.
public actor ProtectionCenter {
    public typealias Machine = ProtectionStateMachine<ContinuousClock.Instant>

    public struct Tracked: Sendable {
        public var name: String
        public var machine: Machine
        public var hasChannel: Bool
        public var settings = VMSettings()
        public var hello: AgentMessage.Hello?
        public var lastSeq: UInt64?
        public var lastHeartbeat: ContinuousClock.Instant?
        /// Messages for the VM's live agent session (e.g. a new welcome).
        var outbox: AsyncStream<AgentMessage>.Continuation?
    }

    private var vms: [String: Tracked] = [:]

    public init() {}

    public func tracked(_ uuid: String) -> Tracked? { vms[uuid] }
    public var all: [String: Tracked] { vms }

    /// Starts tracking a VM (no-op when tracked). Returns true when new.
    @discardableResult
    public func track(uuid: String, name: String, policy: ProtectionPolicy, hasChannel: Bool,
                      recentRecoveries: [ContinuousClock.Instant]) -> Bool {
        if var existing = vms[uuid] {
            existing.name = name
            if existing.hasChannel != hasChannel {
                // The definition changed (channel added/removed): start over.
                existing.machine = Machine(policy: policy, hasChannel: hasChannel, recentRecoveries: recentRecoveries)
                existing.hasChannel = hasChannel
            }
            vms[uuid] = existing
            return false
        }
        vms[uuid] = Tracked(name: name, machine: Machine(policy: policy, hasChannel: hasChannel,
                                                          recentRecoveries: recentRecoveries),
                            hasChannel: hasChannel)
        return true
    }

    public func forget(_ uuid: String) {
        vms.removeValue(forKey: uuid)?.outbox?.finish()
    }

    /// Runs `body` on a VM's state and returns its result (nil when untracked).
    public func mutate<R: Sendable>(_ uuid: String, _ body: @Sendable (inout Tracked) -> R) -> R? {
        guard var t = vms[uuid] else { return nil }
        let r = body(&t)
        vms[uuid] = t
        return r
    }

    /// Applies a new policy; a live agent gets the new heartbeat interval at once.
    public func setPolicy(_ uuid: String, _ policy: ProtectionPolicy) {
        guard var t = vms[uuid] else { return }
        let intervalChanged = t.machine.policy.heartbeatIntervalMs != policy.heartbeatIntervalMs
        t.machine.policy = policy
        vms[uuid] = t
        if intervalChanged { t.outbox?.yield(.welcome(.init(heartbeatIntervalMs: policy.heartbeatIntervalMs))) }
    }

    // MARK: agent session hooks

    func attach(_ uuid: String, outbox: AsyncStream<AgentMessage>.Continuation) {
        vms[uuid]?.outbox?.finish()
        vms[uuid]?.outbox = outbox
    }

    func detach(_ uuid: String) {
        vms[uuid]?.outbox = nil
    }

    /// Queues a message for the VM's live agent session; false when none.
    func send(_ uuid: String, _ message: AgentMessage) -> Bool {
        guard let outbox = vms[uuid]?.outbox else { return false }
        if case .enqueued = outbox.yield(message) { return true }
        return false
    }

    /// Returns the heartbeat interval the agent must use.
    func hello(_ uuid: String, _ hello: AgentMessage.Hello, at now: ContinuousClock.Instant) -> Int? {
        guard var t = vms[uuid] else { return nil }
        t.hello = hello
        t.lastSeq = nil
        t.lastHeartbeat = now
        t.machine.agentHello(at: now)
        vms[uuid] = t
        return t.machine.policy.heartbeatIntervalMs
    }

    /// Records a heartbeat; false when replayed (sequence not increasing) or
    /// before any hello, which a well-behaved agent never sends.
    func heartbeat(_ uuid: String, seq: UInt64, at now: ContinuousClock.Instant) -> Bool {
        guard var t = vms[uuid], t.hello != nil else { return false }
        if let last = t.lastSeq, seq <= last { return false }
        t.lastSeq = seq
        t.lastHeartbeat = now
        t.machine.agentHeartbeat(at: now)
        vms[uuid] = t
        return true
    }

    func goodbye(_ uuid: String) {
        vms[uuid]?.machine.agentGoodbye()
    }

    /// Runs every machine's timer; returns the actions due, by VM, in HA
    /// priority order (high first, then by name).
    func tickAll(at now: ContinuousClock.Instant) -> [(uuid: String, name: String, actions: [Machine.Action])] {
        var due: [(String, String, [Machine.Action])] = []
        func key(_ uuid: String) -> (Int, String) { (vms[uuid]?.settings.haPriority.rank ?? 1, vms[uuid]?.name ?? uuid) }
        for uuid in vms.keys.sorted(by: { key($0) < key($1) }) {
            guard var t = vms[uuid] else { continue }
            let actions = t.machine.tick(at: now)
            vms[uuid] = t
            if !actions.isEmpty { due.append((uuid, t.name, actions)) }
        }
        return due
    }
}
