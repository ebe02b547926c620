import Glibc

/// One NTP-style exchange over the agent channel: host sends at t1, guest
/// receives at t2 and answers at t3, host receives at t4. The channel's
/// latency cancels out when it is the same both ways.
public struct ClockSample: Codable, Sendable, Equatable {
    public var t1: Int64, t2: Int64, t3: Int64, t4: Int64

    public init(t1: Int64, t2: Int64, t3: Int64, t4: Int64) {
        self.t1 = t1
        self.t2 = t2
        self.t3 = t3
        self.t4 = t4
    }

    /// Guest clock minus host clock.
    public var offsetNs: Int64 { ((t2 &- t1) &+ (t3 &- t4)) / 2 }
    /// Round trip spent in the channel (the guest's own processing excluded).
    public var delayNs: Int64 { (t4 &- t1) &- (t3 &- t2) }

    /// Of several samples, the one with the shortest round trip is the most
    /// accurate: its offset error is at most half its delay.
    public static func best(_ samples: [ClockSample]) -> ClockSample? {
        samples.filter { $0.delayNs >= 0 }.min { $0.delayNs < $1.delayNs }
    }
}

/// How vigild corrects a guest clock: step (jump) when far off, slew
/// (adjtime, at most 0.5 ms per second) when close, nothing when within
/// the measurement's own error.
public struct TimeCorrection: Sendable, Equatable {
    public static let stepThresholdNs: Int64 = 50_000_000
    public static let toleranceNs: Int64 = 200_000

    public enum Kind: String, Codable, Sendable { case none, step, slew }
    public var kind: Kind
    /// To add to the guest clock.
    public var adjustNs: Int64

    public init(offset guestMinusHostNs: Int64, forceStep: Bool = false) {
        let magnitude = guestMinusHostNs.magnitude
        // A hostile guest may report anything: never trap on negation.
        adjustNs = guestMinusHostNs == .min ? .max : -guestMinusHostNs
        if magnitude <= UInt64(Self.toleranceNs) {
            kind = .none
        } else if forceStep || magnitude > UInt64(Self.stepThresholdNs) {
            kind = .step
        } else {
            kind = .slew
        }
    }
}

/// `GET /v1/vms/{vm}/time` and `POST /v1/vms/{vm}/time/sync` body.
public struct TimeStatus: Codable, Sendable, Equatable {
    public var vm: String
    /// Whether vigild keeps this guest's clock in sync.
    public var timeSync: Bool
    /// Guest minus host, in milliseconds, as just measured.
    public var offsetMs: Double
    /// Round trip of the best probe: the measurement's error is at most half of it.
    public var delayMs: Double
    /// After a sync: the offset before it and what was done.
    public var offsetBeforeMs: Double?
    public var correction: String?

    public init(vm: String, timeSync: Bool, offsetMs: Double, delayMs: Double,
                offsetBeforeMs: Double? = nil, correction: String? = nil) {
        self.vm = vm
        self.timeSync = timeSync
        self.offsetMs = offsetMs
        self.delayMs = delayMs
        self.offsetBeforeMs = offsetBeforeMs
        self.correction = correction
    }
}
