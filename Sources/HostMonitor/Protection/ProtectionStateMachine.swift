import Core

/// Why vigild thinks a guest OS failed.
public enum FailureCause: Equatable, Sendable, CustomStringConvertible {
    /// libvirt reported Crashed/Panicked (guest pvpanic).
    case panic
    /// libvirt reported Crashed without a panic notification.
    case crash
    /// The agent's heartbeats stopped while the domain ran: hang, panic
    /// without pvpanic, or a blue screen.
    case heartbeatLoss(silentMs: Int)
    /// The virtual watchdog device fired.
    case watchdog

    public var description: String {
        switch self {
        case .panic: "guest kernel panic (pvpanic)"
        case .crash: "guest crashed"
        case .heartbeatLoss(let ms): "agent heartbeat lost for \(ms) ms (guest hung)"
        case .watchdog: "watchdog fired"
        }
    }
}

/// One VM's crash-protection decisions. Pure and synchronous: callers feed
/// it what happened with the time it happened and perform the actions it
/// returns, so every rule is tested with made-up instants.
public struct ProtectionStateMachine<Instant: InstantProtocol>: Sendable
where Instant.Duration == Duration, Instant: Sendable {
    public enum Phase: Equatable, Sendable { case stopped, running, paused, crashed, migrating }

    public enum Action: Equatable, Sendable {
        /// Apply `action` (restart or migrate) because of `cause`.
        case recover(FailureCause, CrashAction)
        /// Policy is ignore: record the failure only.
        case recordOnly(FailureCause)
        /// Too many recoveries in the window: stop and tell the administrator.
        case alert(String)
    }

    public var policy: ProtectionPolicy
    /// The VM's HA setting: when off, failures are only recorded.
    public var haEnabled = true
    public private(set) var phase: Phase
    public private(set) var agent: AgentState
    public private(set) var recovering = false
    private let hasChannel: Bool
    private var bootedAt: Instant?
    private var lastHeartbeat: Instant?
    /// A heartbeat silence already reported, so it is handled once.
    private var silenceReported = false
    private var quietUntil: Instant?
    private var recoveries: [Instant]
    private var alerted = false

    /// - Parameter recentRecoveries: recoveries already made (from the event
    ///   log), so the reset limit survives a vigild restart.
    public init(policy: ProtectionPolicy, hasChannel: Bool, recentRecoveries: [Instant] = []) {
        self.policy = policy
        self.hasChannel = hasChannel
        self.phase = .stopped
        self.agent = hasChannel ? .stopped : .unprotected
        self.recoveries = recentRecoveries
    }

    // MARK: domain lifecycle

    /// Booted, restored or arrived by migration: a fresh start for the agent.
    public mutating func domainStarted(at now: Instant) {
        phase = .running
        bootedAt = now
        lastHeartbeat = nil
        silenceReported = false
        recovering = false
        agent = hasChannel ? .connecting : .unprotected
    }

    /// Found running when vigild (re)started. `agentWasAlive` (from the state
    /// database) keeps a hung guest from hiding behind a vigild restart: its
    /// silence is measured from now, but not before `grace` has passed (the
    /// agent's session must first reconnect to the new vigild and say hello).
    public mutating func adoptRunning(at now: Instant, agentWasAlive: Bool, grace: Duration = .zero) {
        domainStarted(at: now)
        if hasChannel && agentWasAlive {
            agent = .alive
            lastHeartbeat = now
            if grace > .zero { quietUntil = now.advanced(by: grace) }
        }
    }

    /// The guest rebooted itself: its agent restarts with it.
    public mutating func guestRebooted(at now: Instant) {
        bootedAt = now
        silenceReported = false
        if agent == .alive || agent == .lost { agent = .connecting }
        lastHeartbeat = nil
    }

    public mutating func domainPaused() {
        if phase == .running { phase = .paused }
    }

    public mutating func migrationStarted() {
        if phase == .running || phase == .paused { phase = .migrating }
    }

    /// Resumed (or a migration was cancelled): the agent could not beat while
    /// frozen, so its silence counts from now.
    public mutating func domainResumed(at now: Instant) {
        guard phase != .stopped && phase != .crashed else { return }
        phase = .running
        if agent == .alive || agent == .lost { lastHeartbeat = now }
        silenceReported = false
    }

    public mutating func domainStopped() {
        phase = .stopped
        agent = hasChannel ? .stopped : .unprotected
        lastHeartbeat = nil
        recovering = false
    }

    public mutating func domainCrashed(panicked: Bool, at now: Instant) -> [Action] {
        phase = .crashed
        if agent == .alive { agent = .lost }
        return failure(panicked ? .panic : .crash, at: now)
    }

    public mutating func watchdogFired(at now: Instant) -> [Action] {
        failure(.watchdog, at: now)
    }

    // MARK: agent

    /// The agent will be silent on purpose until `until` (it is restarting
    /// itself into an upgraded build): silence is not a hang until then.
    public mutating func expectSilence(until: Instant) {
        quietUntil = until
    }

    public mutating func agentHello(at now: Instant) {
        guard hasChannel else { return }
        quietUntil = nil
        agent = .alive
        lastHeartbeat = now
        silenceReported = false
    }

    public mutating func agentHeartbeat(at now: Instant) {
        guard hasChannel, agent != .stopped else { return }
        agent = .alive
        lastHeartbeat = now
        silenceReported = false
    }

    /// The agent stopped cleanly: not a failure, and nothing to watch.
    public mutating func agentGoodbye() {
        guard hasChannel else { return }
        agent = .departed
        lastHeartbeat = nil
    }

    // MARK: time

    /// Checks for heartbeat loss; call often (every 100 ms or so).
    public mutating func tick(at now: Instant) -> [Action] {
        guard phase == .running, !recovering, !silenceReported,
              agent == .alive || agent == .lost, let last = lastHeartbeat else { return [] }
        if let quiet = quietUntil, now < quiet { return [] }
        let silent = last.duration(to: now)
        guard silent > .milliseconds(policy.heartbeatWindowMs) else { return [] }
        agent = .lost
        // Early in boot (or right after a resume) heartbeats may legitimately lag.
        if let booted = bootedAt, booted.duration(to: now) < .seconds(policy.minUptimeSeconds) { return [] }
        silenceReported = true
        let ms = Int(silent.components.seconds * 1000 + silent.components.attoseconds / 1_000_000_000_000_000)
        return failure(.heartbeatLoss(silentMs: ms), at: now)
    }

    /// The earliest instant at which `tick` may act (mark the agent lost or
    /// report a hang); nil while there is nothing to wait for. Callers sleep
    /// until the earliest deadline of all machines instead of polling.
    public var nextDeadline: Instant? {
        guard phase == .running, !recovering, !silenceReported,
              agent == .alive || agent == .lost, let last = lastHeartbeat else { return nil }
        // `tick` needs the silence to exceed the window: one nanosecond past it.
        var deadline = last.advanced(by: .milliseconds(policy.heartbeatWindowMs) + .nanoseconds(1))
        if let quiet = quietUntil, quiet > deadline { deadline = quiet }
        // Already lost within the boot allowance: nothing more until it ends.
        if agent == .lost, let booted = bootedAt {
            let allowed = booted.advanced(by: .seconds(policy.minUptimeSeconds))
            if allowed > deadline { deadline = allowed }
        }
        return deadline
    }

    /// The recovery action finished (successfully or not).
    public mutating func recoveryFinished() {
        recovering = false
    }

    /// Instants of the recoveries inside the window (for persistence/tests).
    public var recoveryHistory: [Instant] { recoveries }

    private mutating func failure(_ cause: FailureCause, at now: Instant) -> [Action] {
        // One failure, one action: ignore further signals until it is done.
        guard !recovering else { return [] }
        if policy.onCrash == .ignore || !haEnabled { return [.recordOnly(cause)] }
        recoveries.removeAll { $0.duration(to: now) > .seconds(policy.windowSeconds) }
        if recoveries.count >= policy.maxResets {
            if alerted { return [.recordOnly(cause)] }
            alerted = true
            return [.alert("\(recoveries.count) recoveries within \(policy.windowSeconds) s reached the limit of \(policy.maxResets); "
                           + "vigild will not recover this VM again until the window passes: \(cause)")]
        }
        alerted = false
        recoveries.append(now)
        recovering = true
        return [.recover(cause, policy.onCrash)]
    }
}
