import Core
import Foundation
import Libvirt
import Logging
import ServiceLifecycle
import Synchronization

/// The heart of vigild: keeps a libvirt connection (reconnecting when
/// libvirtd restarts), follows domain events, runs one agent session per
/// running domain that has the Vigil channel, and turns what it sees into
/// protection decisions (`ProtectionCenter`) and recoveries.
public final class MonitorService: Service, Sendable {
    let config: DaemonConfig
    let host: HostContext
    let tracking: GuestTracking
    var center: ProtectionCenter { tracking.center }
    var watchers: WatcherSet { tracking.watchers }
    let requests: AgentRequests
    let time: TimeService
    let upgrades: UpgradeService
    let performer: RecoveryPerformer
    /// Runs after every (re)connection to libvirt, before the first
    /// reconcile; `first` on the first one after start (to finish or undo
    /// what a killed vigild left halfway).
    let onConnect: @Sendable (_ conn: Connection, _ first: Bool) async -> Void
    /// What was last read of each domain's definition (shared with `VMService`).
    let cache: DomainCache
    /// What each guest may put in the event log, across its sessions.
    let budget = GuestEventBudget()
    /// Recoveries a killed vigild left for the next hello to settle.
    let interrupted: InterruptedRecoveries
    private let connectedOnce = Mutex(false)
    var events: EventLog { host.events }
    var executor: BlockingExecutor { host.executor }
    var logger: Logger { host.logger }

    init(config: DaemonConfig, host: HostContext, tracking: GuestTracking, requests: AgentRequests,
         cache: DomainCache, time: TimeService, upgrades: UpgradeService,
         onConnect: @escaping @Sendable (_ conn: Connection, _ first: Bool) async -> Void) {
        self.config = config
        self.host = host
        self.tracking = tracking
        self.requests = requests
        self.time = time
        self.upgrades = upgrades
        self.onConnect = onConnect
        self.cache = cache
        self.interrupted = InterruptedRecoveries(events: host.events, logger: host.logger)
        self.performer = RecoveryPerformer(peers: config.peers, sharedStorage: config.sharedStorage, logger: host.logger)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.connectLoop() }
            }
        }
        await watchers.stopAll()
    }

    private func connectLoop() async {
        var backoff: Duration = .milliseconds(250)
        while !Task.isCancelled {
            do {
                let conn = try await open()
                backoff = .milliseconds(250)
                events.record(kind: "libvirt", message: "connected to \(config.libvirtURI)")
                try await follow(conn)
                if Task.isCancelled { break }
                logger.warning("lost connection to libvirtd; reconnecting", metadata: ["libvirt.uri": "\(config.libvirtURI)"])
                events.record(kind: "libvirt", message: "connection to \(config.libvirtURI) lost")
                await watchers.stopAll()
            } catch is CancellationError {
                break
            } catch {
                logger.error("cannot reach libvirt: \(error)", metadata: ["libvirt.uri": "\(config.libvirtURI)"])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    private func open() async throws -> Connection {
        let existing = host.libvirt.last
        let uri = config.libvirtURI
        let conn = try await executor.run { () throws -> Connection in
            if let existing {
                try existing.reconnect()
                return existing
            }
            return try Connection(uri: uri)
        }
        host.libvirt.set(conn)
        // Keepalive notices a hung or vanished libvirtd; drivers without it (test://) refuse harmlessly.
        try? await executor.run { try conn.setKeepAlive(interval: 5, count: 3) }
        // The host UUID comes from libvirt's capabilities XML, which can take
        // seconds to build: warm the cache now, not in the first API call.
        Task { _ = try? await executor.run { try conn.hostUUID } }
        return conn
    }

    /// Follows events until the connection closes.
    private func follow(_ conn: Connection) async throws {
        let subscription = try await executor.run { try conn.subscribeDomainEvents() }
        defer { subscription.cancel() }
        let first = connectedOnce.withLock { done in
            defer { done = true }
            return !done
        }
        await onConnect(conn, first)
        try await reconcile(conn, adopting: true)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in subscription.events { await self.handle(event, conn: conn) }
            }
            group.addTask {
                // The safety net for missed events: states every pass,
                // definitions every `refetchEvery` passes.
                var pass = 0
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(self.config.reconcileIntervalMs))
                    pass += 1
                    try? await self.reconcile(conn, adopting: false, refetch: pass % self.config.refetchEvery == 0)
                }
            }
            group.addTask {
                // Guest clocks drift: resync every agent now and then.
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(self.config.timeSyncIntervalSeconds))
                    for uuid in await self.center.all.keys { await self.time.autoSync(uuid, reason: "periodic") }
                }
            }
            group.addTask {
                // Heartbeat deadlines: sleep until the earliest one that
                // exists, or until a change may have made one earlier.
                while !Task.isCancelled {
                    for due in await self.center.tickAll(at: .now) {
                        await self.perform(due.actions, uuid: due.uuid, name: due.name, detectedAfter: nil, conn: conn)
                    }
                    await self.center.sleepUntilNextDeadline()
                }
            }
            // The event stream ends when the connection closes.
            try await group.next()
            group.cancelAll()
        }
    }

    private func handle(_ event: DomainEvent, conn: Connection) async {
        let uuid = event.domainUUID, name = event.domainName
        let meta: Logger.Metadata = ["vm.name": "\(name)", "vm.uuid": "\(uuid)"]
        switch event.kind {
        case .lifecycle(let life):
            logger.info("domain event \(life)", metadata: meta)
            events.record(vmUUID: uuid, vmName: name, kind: "lifecycle", message: life.description)
            await apply(life, event: event, conn: conn)
        case .reboot:
            events.record(vmUUID: uuid, vmName: name, kind: "lifecycle", message: "guest rebooted")
            await center.mutate(uuid) { $0.machine.guestRebooted(at: .now) }
        case .watchdog(let action):
            logger.warning("watchdog fired (\(action))", metadata: meta)
            let actions = await center.mutate(uuid) { $0.machine.watchdogFired(at: .now) } ?? []
            await perform(actions, uuid: uuid, name: name, detectedAfter: event.receivedAt, conn: conn)
        default:
            break
        }
    }

    private func apply(_ life: LifecycleEvent, event: DomainEvent, conn: Connection) async {
        let uuid = event.domainUUID, name = event.domainName
        switch life.kind {
        case .started:
            await reconcile(conn, uuid: uuid)
            await center.mutate(uuid) { $0.machine.domainStarted(at: .now) }
            // Restored or reverted in place: the agent session may live on
            // with a clock from the past. (A fresh boot syncs on hello.)
            if life.detailName != "booted" { time.scheduleSync(uuid, reason: "VM \(life.detailName)") }
        case .resumed:
            await center.mutate(uuid) { $0.machine.domainResumed(at: .now) }
            time.scheduleSync(uuid, reason: "VM resumed (\(life.detailName))")
        case .suspended:
            await center.mutate(uuid) { $0.machine.domainPaused() }
        case .stopped:
            await watchers.stop(uuid)
            await center.mutate(uuid) { $0.machine.domainStopped() }
            events.markAgent(vmUUID: uuid, alive: false)
        case .crashed:
            let actions = await center.mutate(uuid) { $0.machine.domainCrashed(panicked: life.isPanic, at: .now) } ?? []
            await perform(actions, uuid: uuid, name: name, detectedAfter: event.receivedAt, conn: conn)
        case .undefined:
            await tracking.forget(uuid)
        case .defined:
            // A new or changed definition (channel, policy, settings).
            await reconcile(conn, uuid: uuid)
        default:
            break
        }
    }

    /// Records failures and starts recoveries. `detectedAfter` is when the
    /// libvirt event arrived, so the log shows detection latency.
    /// `continuing`: the failure is already in the log (a killed vigild
    /// detected it); only its recovery is left to do.
    func perform(_ actions: [ProtectionCenter.Machine.Action], uuid: String, name: String,
                 detectedAfter: ContinuousClock.Instant?, conn: Connection, continuing: Bool = false) async {
        let latency = detectedAfter.map { ($0.duration(to: .now)).milliseconds }
        for action in actions {
            switch action {
            case .recordOnly(let cause):
                let why = await center.tracked(uuid)?.settings.haEnabled == false ? "HA is off for this VM" : "policy is ignore"
                logger.warning("guest failure: \(cause); \(why): no action", metadata: ["vm.name": "\(name)"])
                events.record(vmUUID: uuid, vmName: name, kind: "failure", message: "\(cause); \(why): no action",
                              cause: cause.code, action: "ignore", outcome: "ignored", durationMs: latency)
            case .alert(let text):
                logger.critical("\(text)", metadata: ["vm.name": "\(name)"])
                events.record(vmUUID: uuid, vmName: name, kind: "alert", message: text, outcome: "not recovered")
            case .recover(let cause, let crashAction):
                // On a thread of its own: the executor's threads may be held by
                // slow agent calls (libvirt's guest-sync waits 5 s on a hung
                // agent), and detection must not queue behind them.
                if case .heartbeatLoss = cause, let state = try? await OwnThread.run({ try conn.domain(uuid: uuid).state().state }),
                   state != .running {
                    // Silence from a VM that was just shut off or paused (an
                    // administrator, or libvirt) is not a hang: never start it again.
                    logger.info("heartbeat silence from a VM that is \(state), not a hang", metadata: ["vm.name": "\(name)"])
                    await center.mutate(uuid) { $0.machine.recoveryFinished() }
                    continue
                }
                if continuing {
                    logger.notice("continuing the recovery from \(cause) a stopped vigild began", metadata: ["vm.name": "\(name)"])
                } else {
                    logger.warning("guest failure: \(cause); recovering by \(crashAction.rawValue)", metadata: ["vm.name": "\(name)"])
                    events.record(vmUUID: uuid, vmName: name, kind: "failure", message: "\(cause)",
                                  cause: cause.code, action: crashAction.rawValue, outcome: "detected", durationMs: latency)
                    if cause == .panic { recordPanicDetails(uuid: uuid, name: name) }
                }
                await recover(uuid: uuid, name: name, cause: cause, action: crashAction, conn: conn, continuing: continuing)
            }
        }
    }

    /// What QEMU reported with a panic (a Windows bugcheck code and its
    /// parameters), once libvirt has written it to the domain's log; beside
    /// the recovery, never in its way.
    private func recordPanicDetails(uuid: String, name: String) {
        guard config.libvirtURI.hasSuffix(":///system") else { return }
        let path = "/var/log/libvirt/qemu/\(name).log", events = self.events
        Task.detached {
            for _ in 0..<10 {
                if let details = GuestPanicDetails.fromDomainLog(path) {
                    events.record(vmUUID: uuid, vmName: name, kind: "guest", message: details.summary)
                    return
                }
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    private func recover(uuid: String, name: String, cause: FailureCause, action: CrashAction, conn: Connection,
                         continuing: Bool = false) async {
        let began = ContinuousClock.now
        let performer = self.performer
        let result = await Result {
            try await executor.run { try performer.perform(action, cause: cause, on: try conn.domain(uuid: uuid)) }
        }
        let took = began.duration(to: .now).milliseconds
        switch result {
        case .success(let outcome):
            let done: String = switch outcome {
            case .restarted: "restarted on this host"
            case .movedTo(let uri): "started on \(uri)"
            case .migratedLiveTo(let uri): "live-migrated to \(uri) (the guest was still running)"
            case .restartedInstead(let why): "could not migrate (\(why)); restarted on this host"
            }
            let text = continuing ? done + " (a recovery a stopped vigild began)" : done
            logger.notice("recovered: \(text)", metadata: ["vm.name": "\(name)"])
            events.record(vmUUID: uuid, vmName: name, kind: "recovery", message: text, cause: cause.code,
                          action: action.rawValue, outcome: "succeeded", durationMs: took)
            switch outcome {
            case .movedTo, .migratedLiveTo:
                await tracking.forget(uuid)
            case .restarted, .restartedInstead:
                // A reset gives no libvirt lifecycle event: the guest boots afresh.
                await center.mutate(uuid) {
                    $0.machine.recoveryFinished()
                    $0.machine.domainStarted(at: .now)
                }
            }
        case .failure(let error):
            logger.error("recovery failed: \(error)", metadata: ["vm.name": "\(name)"])
            events.record(vmUUID: uuid, vmName: name, kind: "recovery", message: "recovery failed: \(error)",
                          cause: cause.code, action: action.rawValue, outcome: "failed", durationMs: took)
            await center.mutate(uuid) { $0.machine.recoveryFinished() }
        }
    }

    /// Tracks every domain and brings agent sessions in line with the running
    /// domains that have the channel. `adopting` is true right after
    /// connecting: domains already running or crashed are taken over.
    /// Definitions come from `cache` unless `refetch`: each pass reads only
    /// the domains' states (libvirt events refresh single domains).
    func reconcile(_ conn: Connection, adopting: Bool, refetch: Bool = false) async throws {
        let defaults = config.defaultPolicy, cache = self.cache
        let all = try await executor.run { () throws -> [DomainSnapshot] in
            try conn.domains().map { try cache.current($0, defaults: defaults, refetch: refetch || adopting) }
        }
        var keep: Set<String> = []
        // HA priority orders the recoveries of VMs found failed (high first).
        for d in all.sorted(by: { ($0.settings.haPriority.rank, $0.name) < ($1.settings.haPriority.rank, $1.name) }) {
            if await track(d, adopting: adopting, conn: conn) { keep.insert(d.uuid) }
        }
        await watchers.stopAll(except: keep)
        let known = Set(all.map(\.uuid))
        cache.retain(known)
        for uuid in await center.all.keys where !known.contains(uuid) { await center.forget(uuid) }
    }

    /// Brings one domain in line after a libvirt event about it, reading its
    /// definition afresh; a domain that no longer exists is forgotten.
    func reconcile(_ conn: Connection, uuid: String) async {
        let defaults = config.defaultPolicy, cache = self.cache
        do {
            let d = try await executor.run { try cache.current(try conn.domain(uuid: uuid), defaults: defaults, refetch: true) }
            if await !track(d, adopting: false, conn: conn) { await watchers.stop(uuid) }
        } catch let error as LibvirtError where error.code == .noDomain {
            cache.remove(uuid)
            await tracking.forget(uuid)
        } catch {
            logger.debug("cannot read domain \(uuid) after an event: \(error)")
        }
    }

    /// Tracks one domain with its policy and settings, adopts it when new
    /// (or when `adopting`), and keeps its agent session running while it
    /// runs. Returns whether it has a session to keep.
    private func track(_ d: DomainSnapshot, adopting: Bool, conn: Connection) async -> Bool {
        // The event log is read only for a VM not tracked yet (track ignores it otherwise).
        let recent = await center.tracked(d.uuid) != nil ? [] : events.recentRecoveries(vmUUID: d.uuid, window: d.policy.windowSeconds).map {
            ContinuousClock.now - .seconds(Date().timeIntervalSince($0))
        }
        let isNew = await center.track(uuid: d.uuid, name: d.name, policy: d.policy,
                                       hasChannel: d.socketPath != nil || d.hasChannel || d.watchesGuestAgent,
                                       recentRecoveries: recent)
        await center.setPolicy(d.uuid, d.policy)
        await center.mutate(d.uuid) {
            $0.settings = d.settings
            $0.machine.haEnabled = d.settings.haEnabled
        }
        if isNew || adopting {
            await adopt(d, conn: conn)
        }
        guard d.state.state == .running || d.state.state == .paused else { return false }
        if d.watchesGuestAgent {
            let ping = GuestAgentPing(uuid: d.uuid, name: d.name, connection: conn, center: center, events: events, logger: logger)
            await watchers.ensure(uuid: d.uuid, name: d.name, socketPath: GuestAgentPing.channelName) { await ping.run() }
            return true
        }
        guard let path = d.socketPath else { return false }
        if d.guestAgentFallback {
            let ping = GuestAgentPing(uuid: d.uuid, name: d.name, connection: conn, center: center, events: events, logger: logger,
                                      onlyWithoutVigilAgent: true)
            await watchers.ensure(uuid: d.uuid, name: d.name, socketPath: GuestAgentPing.channelName) { await ping.run() }
        }
        await watchers.ensure(uuid: d.uuid, name: d.name, socketPath: path) {
            await self.watch(uuid: d.uuid, name: d.name, socketPath: path)
        }
        return true
    }

    /// Sets a newly seen domain's machine from its current state. A
    /// restarted vigild never acts twice on one failure: the event log says
    /// whether a recovery was under way or just done when it died.
    private func adopt(_ d: DomainSnapshot, conn: Connection) async {
        let wasAlive = events.wasAgentAlive(vmUUID: d.uuid)
        let bootGrace = Duration.seconds(max(config.recoveryBootGraceSeconds, d.policy.minUptimeSeconds))
        let step = events.lastProtectionStep(vmUUID: d.uuid, window: bootGrace.milliseconds / 1000).map {
            AdoptionDecision.Step(kind: $0.kind, outcome: $0.outcome, time: $0.time, cause: $0.cause, action: $0.action)
        }
        let decision = AdoptionDecision.decide(agentWasAlive: wasAlive, lastStep: step, lastHello: events.lastHello(vmUUID: d.uuid))
        // A crash whose recovery a killed vigild began: the reset not done, or done and not resumed.
        let crashRecoveryUnderWay = decision == .recoveryInterrupted && (step?.cause == "panic" || step?.cause == "crash")
        switch d.state.state {
        case .running, .blocked:
            let reconnect = Duration.milliseconds(config.adoptGraceMs)
            switch decision {
            case .asLastSeen(let alive):
                await center.mutate(d.uuid) { $0.machine.adoptRunning(at: .now, agentWasAlive: alive, grace: reconnect) }
            case .booting:
                await center.mutate(d.uuid) { $0.machine.domainStarted(at: .now) }
            case .recoveryInterrupted:
                logger.notice("a recovery was under way when vigild stopped; waiting for the guest to boot", metadata: ["vm.name": "\(d.name)"])
                if let step {
                    interrupted.remember(d.uuid, .init(bootBefore: events.lastBootID(vmUUID: d.uuid), cause: step.cause,
                                                       action: step.action, detectedAt: step.time))
                }
                await center.mutate(d.uuid) { $0.machine.adoptRunning(at: .now, agentWasAlive: true, grace: bootGrace) }
            }
        case .crashed, .paused where crashRecoveryUnderWay && d.state.isPausedAfterCrash:
            // Crashed while vigild was away, or in the middle of a recovery:
            // recover now, logging the failure only when it is a new one.
            let panicked = d.state.isPanicked || (crashRecoveryUnderWay && step?.cause == "panic")
            let actions = await center.mutate(d.uuid) { $0.machine.domainCrashed(panicked: panicked, at: .now) } ?? []
            await perform(actions, uuid: d.uuid, name: d.name, detectedAfter: nil, conn: conn, continuing: crashRecoveryUnderWay)
        case .paused:
            await center.mutate(d.uuid) {
                $0.machine.adoptRunning(at: .now, agentWasAlive: wasAlive)
                $0.machine.domainPaused()
            }
        default:
            await center.mutate(d.uuid) { $0.machine.domainStopped() }
        }
    }

    /// Keeps a session to one guest's channel open while the domain runs.
    /// A channel that cannot be reached (no socket: the VM is not a QEMU
    /// one, or is shutting down) is retried with back-off, up to 30 s
    /// apart, so a thousand of them cost next to nothing while idle.
    private func watch(uuid: String, name: String, socketPath: String) async {
        var backoff = Duration.milliseconds(250)
        while !Task.isCancelled {
            var session = AgentSession(vmUUID: uuid, vmName: name, socketPath: socketPath, center: center,
                                       events: events, requests: requests, budget: budget, logger: logger)
            session.onHello = { [self] in
                if let boot = await self.center.tracked(uuid)?.hello?.bootID {
                    self.interrupted.helloArrived(uuid, name: name, boot: boot)
                }
                await self.time.autoSync(uuid, reason: "agent connected")
                await self.upgrades.autoUpgrade(uuid)
            }
            let began = ContinuousClock.now
            do {
                _ = try await session.run()
                backoff = .milliseconds(250)
            } catch {
                logger.debug("agent channel: \(error)", metadata: ["vm.name": "\(name)"])
                // A session that lived a while had connected: reconnect soon.
                backoff = began.duration(to: .now) > .seconds(1) ? .milliseconds(250) : min(backoff * 2, .seconds(30))
            }
            try? await Task.sleep(for: backoff)
        }
    }
}
