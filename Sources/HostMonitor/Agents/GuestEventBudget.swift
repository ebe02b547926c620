import Synchronization

/// How much of the persistent event log one guest may fill. Everything a
/// guest's agent causes to be logged (hello, goodbye, crash reports,
/// rollback reports, complaints about its input) spends from a per-VM
/// token bucket that outlives its sessions, so a guest that reconnects in
/// a loop gains nothing. Beyond the budget, events are counted and one
/// summary per interval says how many were suppressed.
struct EventBudget: Sendable {
    struct Limits: Sendable {
        /// Events a quiet guest may log at once.
        var burst = 6
        /// One more event per this many seconds (6 a minute by default).
        var refillSeconds = 10.0
        /// At most one "N suppressed" summary per this many seconds.
        var summarySeconds = 60.0
    }

    enum Admission: Equatable, Sendable {
        /// Log it; first log a summary of `suppressedBefore` events when above 0.
        case record(suppressedBefore: Int)
        /// Drop it; log a summary of `summary` events when not nil.
        case suppress(summary: Int?)
    }

    let limits: Limits
    private var tokens: Double
    private var refilledAt: ContinuousClock.Instant
    private var suppressed = 0
    private var summarizedAt: ContinuousClock.Instant?

    init(limits: Limits = Limits(), now: ContinuousClock.Instant) {
        self.limits = limits
        tokens = Double(limits.burst)
        refilledAt = now
    }

    mutating func admit(at now: ContinuousClock.Instant) -> Admission {
        let elapsed = Double(refilledAt.duration(to: now).components.seconds)
            + Double(refilledAt.duration(to: now).components.attoseconds) / 1e18
        if elapsed > 0 {
            tokens = min(Double(limits.burst), tokens + elapsed / limits.refillSeconds)
            refilledAt = now
        }
        // A summary at most once per interval, whichever event brings it.
        let summaryDue = summarizedAt.map { $0.duration(to: now) >= .seconds(limits.summarySeconds) } ?? true
        if tokens >= 1 {
            tokens -= 1
            guard suppressed > 0, summaryDue else { return .record(suppressedBefore: 0) }
            let before = suppressed
            suppressed = 0
            summarizedAt = now
            return .record(suppressedBefore: before)
        }
        suppressed += 1
        guard summaryDue else { return .suppress(summary: nil) }
        let n = suppressed
        suppressed = 0
        summarizedAt = now
        return .suppress(summary: n)
    }
}

/// The event budgets of every VM, and what else bounds a guest's effect on
/// the host: a crash report is logged once per guest boot, and the work an
/// agent's hello starts (a clock sync, an upgrade check) runs at most once
/// per `helloWorkSeconds` for one boot of the guest (a new boot: after 2 s),
/// so a hello storm costs vigild nothing more.
final class GuestEventBudget: Sendable {
    private struct VM {
        var budget: EventBudget
        var crashReportBoot: String?
        var helloWorkAt: ContinuousClock.Instant?
        var helloWorkBoot: String?
    }

    let limits: EventBudget.Limits
    let helloWorkSeconds: Double
    private let vms = Mutex<[String: VM]>([:])

    init(limits: EventBudget.Limits = .init(), helloWorkSeconds: Double = 10) {
        self.limits = limits
        self.helloWorkSeconds = helloWorkSeconds
    }

    func admit(_ uuid: String, at now: ContinuousClock.Instant = .now) -> EventBudget.Admission {
        vms.withLock { all in
            var vm = all[uuid] ?? VM(budget: EventBudget(limits: limits, now: now))
            let admission = vm.budget.admit(at: now)
            all[uuid] = vm
            return admission
        }
    }

    /// True the first time a crash report comes for this boot of the guest.
    func firstCrashReport(_ uuid: String, boot: String) -> Bool {
        vms.withLock { all in
            var vm = all[uuid] ?? VM(budget: EventBudget(limits: limits, now: .now))
            defer { all[uuid] = vm }
            guard vm.crashReportBoot != boot else { return false }
            vm.crashReportBoot = boot
            return true
        }
    }

    /// True when the work a hello from `boot` starts may run now.
    func helloWork(_ uuid: String, boot: String, at now: ContinuousClock.Instant = .now) -> Bool {
        vms.withLock { all in
            var vm = all[uuid] ?? VM(budget: EventBudget(limits: limits, now: now))
            defer { all[uuid] = vm }
            if let last = vm.helloWorkAt {
                let minimum = vm.helloWorkBoot == boot ? helloWorkSeconds : 2
                if last.duration(to: now) < .seconds(minimum) { return false }
            }
            vm.helloWorkAt = now
            vm.helloWorkBoot = boot
            return true
        }
    }

    /// A VM that left this host.
    func forget(_ uuid: String) { vms.withLock { _ = $0.removeValue(forKey: uuid) } }
}
