import Core
import Logging
import NIOCore
import NIOPosix

/// One connection to a guest's agent channel (the unix socket libvirt made
/// for `org.vigil.agent.0`). Everything read here is hostile input: lines
/// are bounded, decoding failures are counted, and a flood is cut off.
struct AgentSession {
    let vmUUID: String
    let vmName: String
    let socketPath: String
    let heartbeatIntervalMs: Int
    let registry: AgentRegistry
    let logger: Logger
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
        return try await channel.executeThenClose { inbound, outbound in
            var framer = LineFramer()
            var limiter = RateLimiter(perSecond: maxMessagesPerSecond)
            var badLines = 0
            for try await buffer in inbound {
                for output in framer.feed(buffer.readableBytesView) {
                    guard case .line(let line) = output else {
                        logger.warning("agent channel: dropped malformed input", metadata: ["vm.name": "\(vmName)"])
                        continue
                    }
                    guard limiter.allow() else {
                        if limiter.dropped == 1 {
                            logger.warning("agent channel: flood, dropping input", metadata: ["vm.name": "\(vmName)"])
                        }
                        continue
                    }
                    let message: AgentMessage
                    do {
                        message = try AgentCodec.decode(line)
                    } catch {
                        badLines += 1
                        if badLines <= 3 {
                            logger.warning("agent channel: undecodable line", metadata: ["vm.name": "\(vmName)"])
                        }
                        continue
                    }
                    switch message {
                    case .hello(let hello):
                        await registry.helloReceived(vmUUID, hello.sanitized)
                        let welcome = AgentCodec.encode(.welcome(.init(heartbeatIntervalMs: heartbeatIntervalMs)))
                        try await outbound.write(ByteBuffer(bytes: welcome))
                        logger.info("agent connected", metadata: [
                            "vm.name": "\(vmName)", "agent.version": "\(hello.sanitized.agentVersion)"])
                    case .heartbeat(let beat):
                        _ = await registry.heartbeat(vmUUID, seq: beat.seq)
                    case .goodbye(let bye):
                        await registry.set(vmUUID, state: .departed)
                        return .goodbye(String(bye.reason.prefix(200)))
                    case .sync(let sync):
                        try await outbound.write(ByteBuffer(bytes: [LineFramer.syncByte] + AgentCodec.encode(.sync(sync))))
                    case .welcome:
                        break
                    }
                }
            }
            return .closed
        }
    }
}

/// Token bucket over one-second windows.
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

extension AgentMessage.Hello {
    /// Bounds every string a guest sends before it is stored or shown.
    var sanitized: Self {
        func clip(_ s: String) -> String { String(s.unicodeScalars.filter { $0.value >= 0x20 }.prefix(128).map(Character.init)) }
        return .init(protocolVersion: protocolVersion, agentVersion: clip(agentVersion), os: clip(os),
                     kernel: clip(kernel), bootID: clip(bootID), hostname: clip(hostname),
                     capabilities: capabilities.prefix(32).map(clip))
    }
}
