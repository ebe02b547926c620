import Core
import Logging

/// Keeps guest clocks on the host's time over the agent channel: measures
/// the offset NTP-style (best of several probes), corrects it in the guest
/// (step when far off, slew when close), and logs before and after.
struct TimeKeeper: Sendable {
    let center: ProtectionCenter
    let requests: AgentRequests
    let events: EventLog
    let logger: Logger
    /// Shared by every TimeKeeper of a vigild (see `ClockSyncGate`).
    let gate: ClockSyncGate
    let offsets: ClockOffsets
    static let probes = 5

    struct NoAnswer: Error, CustomStringConvertible {
        var description: String { "the agent gave no usable time reply" }
    }

    struct AdjustFailed: Error, CustomStringConvertible {
        let reason: String
        var description: String { "the guest could not set its clock: \(reason)" }
    }

    /// The guest's offset from the host, from the quickest of several probes.
    func measure(_ uuid: String) async throws -> ClockSample {
        var samples: [ClockSample] = []
        for _ in 0..<Self.probes {
            let reply = try await requests.request(vm: uuid, what: "a time probe", send: { await center.send(uuid, $0) }) {
                .timeProbe(.init(id: $0, t1: 0))
            }
            guard case .timeReply(let r) = reply.message else { continue }
            samples.append(ClockSample(t1: r.t1, t2: r.t2, t3: r.t3, t4: reply.receivedAtNs))
        }
        guard let best = ClockSample.best(samples) else { throw NoAnswer() }
        offsets.record(uuid, seconds: Double(best.offsetNs) / 1e9)
        return best
    }

    /// Measures, corrects and measures again. `forceStep` (an administrator's
    /// explicit sync) steps even small offsets instead of slewing them.
    func sync(_ uuid: String, name: String, reason: String, forceStep: Bool = false) async throws -> TimeStatus {
        try await gate.run(uuid) { try await syncNow(uuid, name: name, reason: reason, forceStep: forceStep) }
    }

    private func syncNow(_ uuid: String, name: String, reason: String, forceStep: Bool) async throws -> TimeStatus {
        let before = try await measure(uuid)
        let correction = TimeCorrection(offset: before.offsetNs, forceStep: forceStep)
        if correction.kind != .none {
            let mode: AgentMessage.AdjustMode = correction.kind == .step ? .step : .slew
            let reply = try await requests.request(vm: uuid, what: "a clock adjustment", send: { await center.send(uuid, $0) }) {
                .timeAdjust(.init(id: $0, offsetNs: correction.adjustNs, mode: mode))
            }
            if case .timeAdjusted(let done) = reply.message, let error = done.error {
                events.record(vmUUID: uuid, vmName: name, kind: "time",
                              message: "clock sync (\(reason)) failed: offset \(Self.ms(before.offsetNs)); guest: \(error.clipped(200))",
                              action: correction.kind.rawValue, outcome: "failed")
                throw AdjustFailed(reason: error.clipped(200))
            }
        }
        let after = correction.kind == .none ? before : try await measure(uuid)
        let text = correction.kind == .none
            ? "clock in sync (\(reason)): offset \(Self.ms(before.offsetNs))"
            : "clock synced (\(reason)): offset \(Self.ms(before.offsetNs)) → \(correction.kind.rawValue) → \(Self.ms(after.offsetNs))"
        events.record(vmUUID: uuid, vmName: name, kind: "time", message: text, action: correction.kind.rawValue,
                      outcome: "succeeded")
        logger.info("\(text)", metadata: ["vm.name": "\(name)"])
        return TimeStatus(vm: name, timeSync: true, offsetMs: Double(after.offsetNs) / 1e6, delayMs: Double(after.delayNs) / 1e6,
                          offsetBeforeMs: Double(before.offsetNs) / 1e6, correction: correction.kind.rawValue)
    }

    static func ms(_ ns: Int64) -> String {
        let v = Double(ns) / 1e6
        return (v >= 0 ? "+" : "") + String(format3(v)) + " ms"
    }

    private static func format3(_ v: Double) -> String {
        let scaled = (v * 1000).rounded() / 1000
        return "\(scaled)"
    }
}
