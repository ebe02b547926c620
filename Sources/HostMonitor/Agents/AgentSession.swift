import Core
import Logging
import NIOCore
import NIOPosix

/// One connection to a guest's agent channel (the unix socket libvirt made
/// for `org.vigil.agent.0`). Everything read here is hostile input: lines
/// are bounded by the framer, undecodable input is counted and logged a few
/// times, a flood is cut off by a rate limit, and nothing a guest says can
/// name or touch another VM: the session is bound to one UUID by vigild.
struct AgentSession {
    let vmUUID: String
    let vmName: String
    let socketPath: String
    let center: ProtectionCenter
    let events: EventLog
    let requests: AgentRequests
    /// What this guest may put in the event log (shared by its sessions).
    let budget: GuestEventBudget
    let logger: Logger
    /// Called after each accepted hello (e.g. to sync the guest clock).
    var onHello: @Sendable () async -> Void = {}
    /// Messages per second a guest may send before input is dropped.
    var maxMessagesPerSecond = 50

    enum End: Sendable { case closed, goodbye(String) }

    /// Runs until the channel closes, the agent says goodbye, or the task is cancelled.
    func run() async throws -> End {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(unixDomainSocketPath: socketPath) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let (outbox, outboxContinuation) = AsyncStream.makeStream(of: AgentMessage.self, bufferingPolicy: .bufferingNewest(16))
        await center.attach(vmUUID, outbox: outboxContinuation)
        defer { outboxContinuation.finish() }
        let requests = self.requests, uuid = vmUUID
        defer { Task { await requests.cancelAll(vm: uuid) } }
        return try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: End?.self) { group in
                group.addTask {
                    for await var message in outbox {
                        // A time probe carries its send time: stamp it as late as possible.
                        if case .timeProbe(var probe) = message {
                            probe.t1 = WallClock.nowNs()
                            message = .timeProbe(probe)
                        }
                        try await outbound.write(ByteBuffer(bytes: AgentCodec.encode(message)))
                    }
                    return nil
                }
                group.addTask {
                    try await read(inbound, reply: outboxContinuation)
                }
                let end = try await group.next() ?? .closed
                group.cancelAll()
                await center.detach(vmUUID)
                return end ?? .closed
            }
        }
    }

    private func read(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
                      reply: AsyncStream<AgentMessage>.Continuation) async throws -> End {
        var framer = LineFramer()
        var limiter = RateLimiter(perSecond: maxMessagesPerSecond)
        var complaints = 0
        var crashReports = 0
        var bootID = ""
        var sawHello = false, beatsWithoutHello = 0
        /// Logs what the guest caused, within its budget.
        func guestEvent(kind: String, _ message: @autoclosure () -> String, action: String? = nil, outcome: String? = nil) {
            switch budget.admit(vmUUID) {
            case .record(let suppressed):
                if suppressed > 0 { summarize(suppressed) }
                events.record(vmUUID: vmUUID, vmName: vmName, kind: kind, message: message(), action: action, outcome: outcome)
            case .suppress(let summary):
                if let summary { summarize(summary) }
            }
        }
        func summarize(_ n: Int) {
            events.record(vmUUID: vmUUID, vmName: vmName, kind: "agent",
                          message: "\(n) more event(s) caused by this guest's agent were not logged (over its budget of "
                            + "\(budget.limits.burst), then one per \(Int(budget.limits.refillSeconds)) s)", outcome: "suppressed")
        }
        func complain(_ what: String) {
            complaints += 1
            if complaints <= 3 || complaints % 1000 == 0 {
                logger.warning("agent channel: \(what) (\(complaints) so far)", metadata: ["vm.name": "\(vmName)"])
            }
            if complaints == 1 {
                guestEvent(kind: "agent", "hostile or corrupt input on agent channel: \(what)")
            }
        }
        for try await buffer in inbound {
            let receivedAtNs = WallClock.nowNs()
            for output in framer.feed(buffer.readableBytesView) {
                let line: [UInt8]
                switch output {
                case .line(let l): line = l
                case .oversized(let n): complain("dropped a \(n)-byte line (limit \(AgentProtocol.maxLineBytes))"); continue
                case .resynced: continue
                }
                // Replies vigild asked for (upgrade acknowledgements, time
                // probes) come at vigild's own pace: they neither count
                // against the limit nor are dropped by it.
                let expected = line.containsReply ? await requests.hasPending(vm: vmUUID) : false
                guard expected || limiter.allow() else {
                    if limiter.dropped == 1 { complain("message flood, dropping input") }
                    continue
                }
                let message: AgentMessage
                do {
                    message = try AgentCodec.decode(line)
                } catch {
                    complain("undecodable message")
                    continue
                }
                let now = ContinuousClock.now
                if let id = message.replyID,
                   await requests.deliver(vm: vmUUID, id: id, .init(message: message, receivedAtNs: receivedAtNs)) {
                    continue
                }
                switch message {
                case .hello(let raw):
                    let hello = raw.sanitized
                    guard let interval = await center.hello(vmUUID, hello, at: now) else { continue }
                    reply.yield(.welcome(.init(heartbeatIntervalMs: interval)))
                    crashReports = 0
                    bootID = hello.bootID
                    sawHello = true
                    if let message = events.agentHello(vmUUID: vmUUID, hello: hello) {
                        guestEvent(kind: "agent", message)
                    }
                    logger.info("agent connected", metadata: ["vm.name": "\(vmName)", "agent.version": "\(hello.agentVersion)"])
                    if budget.helloWork(vmUUID, boot: hello.bootID) {
                        let onHello = self.onHello
                        Task { await onHello() }
                    }
                case .heartbeat(let beat):
                    if !sawHello {
                        // An agent that said hello to another vigild (a live
                        // migration from a host with its own vigild: the guest saw
                        // no hang-up) heartbeats on as if welcomed. Hanging up
                        // makes it say hello again when the channel reconnects.
                        beatsWithoutHello += 1
                        if beatsWithoutHello >= 2 {
                            logger.info("agent heartbeats without a hello to this vigild; reconnecting so it says hello",
                                        metadata: ["vm.name": "\(vmName)"])
                            return .closed
                        }
                        continue
                    }
                    if await !center.heartbeat(vmUUID, seq: beat.seq, at: now) {
                        complain("heartbeat out of sequence")
                    }
                case .goodbye(let bye):
                    await center.goodbye(vmUUID)
                    events.markAgent(vmUUID: vmUUID, alive: false)
                    guestEvent(kind: "agent", "agent stopped cleanly: \(bye.reason.clipped(200))")
                    return .goodbye(String(bye.reason.prefix(200)))
                case .sync(let sync):
                    reply.yield(.sync(sync))
                case .crashReport(let report):
                    // At most one report per hello and per boot of the guest, clipped,
                    // within the budget: a guest cannot fill the log.
                    crashReports += 1
                    guard crashReports == 1 else { complain("repeated crash report"); continue }
                    guard budget.firstCrashReport(vmUUID, boot: bootID) else { continue }
                    guestEvent(kind: "guest", "guest reports an earlier crash (\(report.source.clipped(64))): \(report.excerpt.clipped(2048))")
                case .timeReply:
                    complain("time reply nobody asked for")
                case .timeAdjusted:
                    complain("time adjustment reply nobody asked for")
                case .inventory:
                    complain("inventory nobody asked for")
                case .upgradeStatus(let status):
                    // Unasked for: only a rollback report after reconnecting is expected.
                    if status.state == .rolledBack {
                        guestEvent(kind: "upgrade", "the agent rolled back: \((status.reason ?? "no reason given").clipped(300))",
                                   action: "upgrade", outcome: "rolled-back")
                    } else {
                        complain("upgrade status nobody asked for")
                    }
                case .welcome, .timeProbe, .timeAdjust, .upgradeOffer, .upgradeChunk, .inventoryRequest:
                    complain("agent sent a host-only message")
                }
            }
        }
        return .closed
    }
}

extension Array where Element == UInt8 {
    /// Whether a line is (claims to be) a reply to a host request.
    var containsReply: Bool {
        for needle in [Array("\"upgrade_status\"".utf8), Array("\"time_reply\"".utf8), Array("\"time_adjusted\"".utf8), Array("\"inventory\"".utf8)] {
            if count >= needle.count, (0...(count - needle.count)).contains(where: { i in self[i..<(i + needle.count)].elementsEqual(needle) }) {
                return true
            }
        }
        return false
    }
}

/// Counts messages in one-second windows.
struct RateLimiter {
    let perSecond: Int
    private var windowStart = ContinuousClock.now
    private var count = 0
    private(set) var dropped = 0

    init(perSecond: Int) { self.perSecond = perSecond }

    mutating func allow() -> Bool {
        let now = ContinuousClock.now
        if now - windowStart >= .seconds(1) {
            windowStart = now
            count = 0
            dropped = 0
        }
        count += 1
        if count > perSecond {
            dropped += 1
            return false
        }
        return true
    }
}

extension String {
    /// Printable characters only, at most `max` of them.
    func clipped(_ max: Int) -> String {
        String(String.UnicodeScalarView(unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F || $0 == "\n" }.prefix(max)))
    }
}

extension AgentMessage.Hello {
    /// Bounds every string a guest sends before it is stored or shown.
    var sanitized: Self {
        .init(protocolVersion: protocolVersion, agentVersion: agentVersion.clipped(64), os: os.clipped(128),
              kernel: kernel.clipped(128), bootID: bootID.clipped(64), hostname: hostname.clipped(128),
              capabilities: capabilities.prefix(32).map { $0.clipped(32) }, arch: arch?.clipped(32))
    }
}
