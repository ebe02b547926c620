/// Messages on the Vigil agent channel (`org.vigil.agent.0`). One JSON object
/// per line; see docs/protocol.md. Unknown fields are ignored so either side
/// can be newer.
public enum AgentMessage: Codable, Sendable, Equatable {
    /// Agent → host, first message after the port opens.
    case hello(Hello)
    /// Host → agent, answer to hello: the settings the agent must use.
    case welcome(Welcome)
    /// Agent → host, every `heartbeatIntervalMs`.
    case heartbeat(Heartbeat)
    /// Agent → host: the agent is stopping cleanly; not a guest failure.
    case goodbye(Goodbye)
    /// Either way: re-synchronise a stream (see `LineFramer.syncByte`).
    case sync(Sync)
    /// Agent → host, after hello: what the guest kept of an earlier crash
    /// (pstore, kernel log). Informational only: never trusted to act on.
    case crashReport(CrashReport)
    /// Host → agent: an NTP-style probe; `t1` is the host's send time.
    case timeProbe(TimeProbe)
    /// Agent → host: the probe back with the guest's receive (`t2`) and send (`t3`) times.
    case timeReply(TimeReply)
    /// Host → agent: move the guest clock by `offsetNs`, by stepping or slewing.
    case timeAdjust(TimeAdjust)
    /// Agent → host: what `timeAdjust` did.
    case timeAdjusted(TimeAdjusted)
    /// Host → agent: a newer agent build is available (see docs/protocol.md).
    case upgradeOffer(UpgradeOffer)
    /// Host → agent: the next piece of the offered package's binary.
    case upgradeChunk(UpgradeChunk)
    /// Agent → host: where an upgrade stands (answer to offer and chunks,
    /// and after a rollback).
    case upgradeStatus(UpgradeStatus)
    /// Host → agent: report what hardware the guest sees (after bringing
    /// hot-added CPUs and memory online).
    case inventoryRequest(InventoryRequest)
    /// Agent → host: the answer to `inventoryRequest`.
    case inventory(Inventory)

    public struct Hello: Codable, Sendable, Equatable {
        public var protocolVersion: Int
        public var agentVersion: String
        public var os: String
        public var kernel: String
        public var bootID: String
        public var hostname: String
        public var capabilities: [String]
        /// `uname -m` (absent from older agents).
        public var arch: String?

        public init(protocolVersion: Int = AgentProtocol.version, agentVersion: String, os: String,
                    kernel: String, bootID: String, hostname: String, capabilities: [String], arch: String? = nil) {
            self.protocolVersion = protocolVersion
            self.agentVersion = agentVersion
            self.os = os
            self.kernel = kernel
            self.bootID = bootID
            self.hostname = hostname
            self.capabilities = capabilities
            self.arch = arch
        }
    }

    public struct Welcome: Codable, Sendable, Equatable {
        public var protocolVersion: Int
        public var heartbeatIntervalMs: Int

        public init(protocolVersion: Int = AgentProtocol.version, heartbeatIntervalMs: Int) {
            self.protocolVersion = protocolVersion
            self.heartbeatIntervalMs = heartbeatIntervalMs
        }
    }

    public struct Heartbeat: Codable, Sendable, Equatable {
        public var seq: UInt64
        public var uptimeMs: UInt64

        public init(seq: UInt64, uptimeMs: UInt64) {
            self.seq = seq
            self.uptimeMs = uptimeMs
        }
    }

    public struct Goodbye: Codable, Sendable, Equatable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    public struct Sync: Codable, Sendable, Equatable {
        public var id: UInt64
        public init(id: UInt64) { self.id = id }
    }

    public struct CrashReport: Codable, Sendable, Equatable {
        /// Where it was found, e.g. "pstore:dmesg-ramoops-0".
        public var source: String
        /// The tail of the saved log (the agent sends at most 4 KiB).
        public var excerpt: String

        public init(source: String, excerpt: String) {
            self.source = source
            self.excerpt = excerpt
        }
    }

    /// Times are nanoseconds since 1970 (CLOCK_REALTIME) on the sender's clock.
    public struct TimeProbe: Codable, Sendable, Equatable {
        public var id: UInt64
        public var t1: Int64
        public init(id: UInt64, t1: Int64) {
            self.id = id
            self.t1 = t1
        }
    }

    public struct TimeReply: Codable, Sendable, Equatable {
        public var id: UInt64
        public var t1: Int64
        public var t2: Int64
        public var t3: Int64
        public init(id: UInt64, t1: Int64, t2: Int64, t3: Int64) {
            self.id = id
            self.t1 = t1
            self.t2 = t2
            self.t3 = t3
        }
    }

    public enum AdjustMode: String, Codable, Sendable { case step, slew }

    public struct TimeAdjust: Codable, Sendable, Equatable {
        public var id: UInt64
        /// Added to the guest clock (host minus guest).
        public var offsetNs: Int64
        public var mode: AdjustMode
        public init(id: UInt64, offsetNs: Int64, mode: AdjustMode) {
            self.id = id
            self.offsetNs = offsetNs
            self.mode = mode
        }
    }

    public struct TimeAdjusted: Codable, Sendable, Equatable {
        public var id: UInt64
        /// nil when the adjustment worked.
        public var error: String?
        public init(id: UInt64, error: String?) {
            self.id = id
            self.error = error
        }
    }

    public struct UpgradeOffer: Codable, Sendable, Equatable {
        public var id: UInt64
        public var manifest: AgentPackageManifest
        /// How long the new build may take to start and handshake before the agent rolls back.
        public var trialTimeoutMs: Int
        public init(id: UInt64, manifest: AgentPackageManifest, trialTimeoutMs: Int) {
            self.id = id
            self.manifest = manifest
            self.trialTimeoutMs = trialTimeoutMs
        }
    }

    public struct UpgradeChunk: Codable, Sendable, Equatable {
        public var id: UInt64
        public var offset: Int
        /// Base64 of at most `AgentProtocol.upgradeChunkBytes` bytes.
        public var data: String
        public init(id: UInt64, offset: Int, data: String) {
            self.id = id
            self.offset = offset
            self.data = data
        }
    }

    public enum UpgradeState: String, Codable, Sendable {
        /// Offer taken; send from `offset` (a resumed transfer starts past 0).
        case accepted
        /// Chunk stored; send from `offset`.
        case receiving
        /// All received and verified; the new build is on trial.
        case installing
        case refused
        /// The new build did not come up in time; the previous one runs again.
        case rolledBack = "rolled_back"
    }

    public struct UpgradeStatus: Codable, Sendable, Equatable {
        public var id: UInt64
        public var state: UpgradeState
        public var offset: Int
        public var reason: String?
        public init(id: UInt64, state: UpgradeState, offset: Int = 0, reason: String? = nil) {
            self.id = id
            self.state = state
            self.offset = offset
            self.reason = reason
        }
    }

    private enum CodingKeys: String, CodingKey { case type, body }
    private enum Kind: String, Codable {
        case hello, welcome, heartbeat, goodbye, sync, crashReport = "crash_report"
        case timeProbe = "time_probe", timeReply = "time_reply", timeAdjust = "time_adjust", timeAdjusted = "time_adjusted"
        case upgradeOffer = "upgrade_offer", upgradeChunk = "upgrade_chunk", upgradeStatus = "upgrade_status"
        case inventoryRequest = "inventory_request", inventory
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(Kind.self, forKey: .type) {
        case .hello: self = .hello(try c.decode(Hello.self, forKey: .body))
        case .welcome: self = .welcome(try c.decode(Welcome.self, forKey: .body))
        case .heartbeat: self = .heartbeat(try c.decode(Heartbeat.self, forKey: .body))
        case .goodbye: self = .goodbye(try c.decode(Goodbye.self, forKey: .body))
        case .sync: self = .sync(try c.decode(Sync.self, forKey: .body))
        case .crashReport: self = .crashReport(try c.decode(CrashReport.self, forKey: .body))
        case .timeProbe: self = .timeProbe(try c.decode(TimeProbe.self, forKey: .body))
        case .timeReply: self = .timeReply(try c.decode(TimeReply.self, forKey: .body))
        case .timeAdjust: self = .timeAdjust(try c.decode(TimeAdjust.self, forKey: .body))
        case .timeAdjusted: self = .timeAdjusted(try c.decode(TimeAdjusted.self, forKey: .body))
        case .upgradeOffer: self = .upgradeOffer(try c.decode(UpgradeOffer.self, forKey: .body))
        case .upgradeChunk: self = .upgradeChunk(try c.decode(UpgradeChunk.self, forKey: .body))
        case .upgradeStatus: self = .upgradeStatus(try c.decode(UpgradeStatus.self, forKey: .body))
        case .inventoryRequest: self = .inventoryRequest(try c.decode(InventoryRequest.self, forKey: .body))
        case .inventory: self = .inventory(try c.decode(Inventory.self, forKey: .body))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .hello(let b): try c.encode(Kind.hello, forKey: .type); try c.encode(b, forKey: .body)
        case .welcome(let b): try c.encode(Kind.welcome, forKey: .type); try c.encode(b, forKey: .body)
        case .heartbeat(let b): try c.encode(Kind.heartbeat, forKey: .type); try c.encode(b, forKey: .body)
        case .goodbye(let b): try c.encode(Kind.goodbye, forKey: .type); try c.encode(b, forKey: .body)
        case .sync(let b): try c.encode(Kind.sync, forKey: .type); try c.encode(b, forKey: .body)
        case .crashReport(let b): try c.encode(Kind.crashReport, forKey: .type); try c.encode(b, forKey: .body)
        case .timeProbe(let b): try c.encode(Kind.timeProbe, forKey: .type); try c.encode(b, forKey: .body)
        case .timeReply(let b): try c.encode(Kind.timeReply, forKey: .type); try c.encode(b, forKey: .body)
        case .timeAdjust(let b): try c.encode(Kind.timeAdjust, forKey: .type); try c.encode(b, forKey: .body)
        case .timeAdjusted(let b): try c.encode(Kind.timeAdjusted, forKey: .type); try c.encode(b, forKey: .body)
        case .upgradeOffer(let b): try c.encode(Kind.upgradeOffer, forKey: .type); try c.encode(b, forKey: .body)
        case .upgradeChunk(let b): try c.encode(Kind.upgradeChunk, forKey: .type); try c.encode(b, forKey: .body)
        case .upgradeStatus(let b): try c.encode(Kind.upgradeStatus, forKey: .type); try c.encode(b, forKey: .body)
        case .inventoryRequest(let b): try c.encode(Kind.inventoryRequest, forKey: .type); try c.encode(b, forKey: .body)
        case .inventory(let b): try c.encode(Kind.inventory, forKey: .type); try c.encode(b, forKey: .body)
        }
    }
}

extension AgentMessage {
    /// The request id when this is an agent's reply to a host request.
    public var replyID: UInt64? {
        switch self {
        case .timeReply(let r): r.id
        case .timeAdjusted(let r): r.id
        case .upgradeStatus(let r): r.id
        case .inventory(let r): r.id
        default: nil
        }
    }
}

public enum AgentProtocol {
    public static let version = 1
    /// The virtio-serial channel name the agent listens on.
    public static let channelName = "org.vigil.agent.0"
    /// Longest line either side accepts; longer input is discarded.
    public static let maxLineBytes = 64 * 1024
    /// Binary bytes per `upgrade_chunk` (base64 keeps the line under the limit).
    public static let upgradeChunkBytes = 32 * 1024
}
