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
        /// qemu-guest-agent's version (`guest-info`), once it answered a ping.
        public var guestAgentVersion: String?
        /// Messages for the VM's live agent session (e.g. a new welcome).
        var outbox: AsyncStream<AgentMessage>.Continuation?
    }

    private var vms: [String: Tracked] = [:]
    /// The heartbeat ticker's sleep and when it ends, cut short by `changed(_:)`.
    private var sleeper: Task<Void, Never>?
    private var armedUntil: ContinuousClock.Instant?

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
        changed(uuid)
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
        changed(uuid)
        return r
    }

    /// Applies a new policy; a live agent gets the new heartbeat interval at once.
    public func setPolicy(_ uuid: String, _ policy: ProtectionPolicy) {
        guard var t = vms[uuid] else { return }
        let intervalChanged = t.machine.policy.heartbeatIntervalMs != policy.heartbeatIntervalMs
        t.machine.policy = policy
        vms[uuid] = t
        guard intervalChanged else { return }
        changed(uuid)
        t.outbox?.yield(.welcome(.init(heartbeatIntervalMs: policy.heartbeatIntervalMs)))
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
        changed(uuid)
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

    /// qemu-guest-agent answered a ping: its first answer (or the first
    /// after it was gone) counts as a hello. Returns whether it was one.
    func guestAgentAnswered(_ uuid: String, version: String?, at now: ContinuousClock.Instant) -> Bool {
        guard var t = vms[uuid] else { return false }
        let hello = t.machine.agent != .alive && t.machine.agent != .lost
        if hello { t.machine.agentHello(at: now) } else { t.machine.agentHeartbeat(at: now) }
        if let version { t.guestAgentVersion = version }
        t.lastHeartbeat = now
        vms[uuid] = t
        if hello { changed(uuid) }
        return hello
    }

    /// qemu-guest-agent is not on its port: gone if it was answering (a
    /// clean stop), nothing if it never was (booting, rebooted). Returns
    /// whether it was answering.
    func guestAgentGone(_ uuid: String) -> Bool {
        guard let agent = vms[uuid]?.machine.agent, agent == .alive || agent == .lost else { return false }
        vms[uuid]?.machine.agentGoodbye()
        return true
    }

    func goodbye(_ uuid: String) {
        vms[uuid]?.machine.agentGoodbye()
    }

    // MARK: the heartbeat ticker

    /// Wakes the ticker when a VM's deadline is now earlier than its sleep.
    /// A heartbeat only moves its VM's deadline later, so it needs no
    /// wake-up (the ticker wakes at the old deadline, finds nothing due,
    /// sleeps on); this is O(1), so a reconcile pass over many VMs is cheap.
    private func changed(_ uuid: String) {
        guard let sleeper, let deadline = vms[uuid]?.machine.nextDeadline else { return }
        if armedUntil.map({ deadline < $0 }) ?? true {
            sleeper.cancel()
            self.sleeper = nil
        }
    }

    /// The earliest deadline of every machine (nil: none).
    func nextDeadline() -> ContinuousClock.Instant? {
        vms.values.compactMap(\.machine.nextDeadline).min()
    }

    /// Sleeps until the earliest deadline, or until a change (a new VM, an
    /// agent's hello, a lifecycle event, a policy) may have made one earlier.
    /// At most a minute, so a missed change costs a minute at worst.
    func sleepUntilNextDeadline() async {
        let limit = ContinuousClock.now + .seconds(60)
        let until = nextDeadline().map { min($0, limit) } ?? limit
        // Deadlines read and the sleep armed in one step of the actor: a
        // change can only come after, while it waits, and then cancels it.
        let task = Task { _ = try? await Task.sleep(until: until, clock: .continuous) }
        sleeper = task
        armedUntil = until
        await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    }

    /// Runs every machine's timer; returns the actions due, by VM, in HA
    /// priority order (high first, then by name).
    func tickAll(at now: ContinuousClock.Instant) -> [(uuid: String, name: String, actions: [Machine.Action])] {
        var due: [(uuid: String, name: String, actions: [Machine.Action])] = []
        for (uuid, t) in vms {
            // Only machines whose deadline passed can have something to say.
            guard let deadline = t.machine.nextDeadline, deadline <= now else { continue }
            var changed = t
            let actions = changed.machine.tick(at: now)
            vms[uuid] = changed
            if !actions.isEmpty { due.append((uuid, t.name, actions)) }
        }
        func key(_ uuid: String) -> (Int, String) { (vms[uuid]?.settings.haPriority.rank ?? 1, vms[uuid]?.name ?? uuid) }
        return due.sorted { key($0.uuid) < key($1.uuid) }
    }
}
