import Core
@testable import HostMonitor
import Testing

/// The heartbeat ticker sleeps until `nextDeadline` instead of polling: that
/// is only right if `tick` does nothing before the deadline and makes
/// progress at it. Checked over random event sequences on a virtual clock.
@Suite struct DeadlineTests {
    typealias Machine = ProtectionStateMachine<ContinuousClock.Instant>
    let t0 = ContinuousClock.now

    /// Deterministic: the same sequences every run (SplitMix64).
    struct Random {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
    }

    /// What `tick` can see change: the agent's state and the next deadline.
    func fingerprint(_ m: Machine) -> String { "\(m.agent) \(String(describing: m.nextDeadline)) \(m.recovering)" }

    @Test func tickIsIdleBeforeTheDeadlineAndActsAtIt() {
        var rng = Random(state: 42)
        var checkedDeadlines = 0
        for _ in 0..<2000 {
            let p = ProtectionPolicy(onCrash: [.restart, .ignore, .migrate][rng.next(3)], heartbeatIntervalMs: 200 * (1 + rng.next(5)),
                                     misses: 1 + rng.next(4), minUptimeSeconds: rng.next(3) * 5, maxResets: 1 + rng.next(3),
                                     windowSeconds: 600)
            var m = Machine(policy: p, hasChannel: rng.next(8) != 0)
            var now = t0
            for _ in 0..<30 {
                now = now + .milliseconds(rng.next(4000))
                switch rng.next(12) {
                case 0: m.domainStarted(at: now)
                case 1: m.adoptRunning(at: now, agentWasAlive: rng.next(2) == 0)
                case 2, 3: m.agentHello(at: now)
                case 4, 5: m.agentHeartbeat(at: now)
                case 6: m.domainPaused()
                case 7: m.domainResumed(at: now)
                case 8: m.expectSilence(until: now + .milliseconds(rng.next(5000)))
                case 9: m.recoveryFinished()
                case 10: m.guestRebooted(at: now)
                default: _ = m.tick(at: now)
                }
                guard let deadline = m.nextDeadline else {
                    // No deadline: tick has nothing to do, now or much later.
                    var later = m
                    #expect(later.tick(at: now + .seconds(3600)) == [])
                    #expect(fingerprint(later) == fingerprint(m))
                    continue
                }
                if deadline > now {
                    var early = m
                    let before = deadline - .nanoseconds(1)
                    #expect(early.tick(at: before) == [], "no action before the deadline")
                    #expect(fingerprint(early) == fingerprint(m), "no change before the deadline")
                }
                var due = m
                let at = max(deadline, now)
                let actions = due.tick(at: at)
                #expect(!actions.isEmpty || fingerprint(due) != fingerprint(m), "progress at the deadline (no busy loop)")
                checkedDeadlines += 1
            }
        }
        #expect(checkedDeadlines > 5000)
    }

    @Test func heartbeatsOnlyMoveTheDeadlineLater() {
        var m = Machine(policy: ProtectionPolicy(onCrash: .restart, heartbeatIntervalMs: 1000, misses: 3, minUptimeSeconds: 0,
                                                 maxResets: 3, windowSeconds: 600), hasChannel: true)
        m.domainStarted(at: t0)
        #expect(m.nextDeadline == nil, "no deadline before the agent's hello")
        m.agentHello(at: t0 + .seconds(1))
        let first = m.nextDeadline
        #expect(first == t0 + .seconds(4) + .nanoseconds(1))
        m.agentHeartbeat(at: t0 + .seconds(2))
        #expect(m.nextDeadline.map { $0 > first! } == true)
        m.domainStopped()
        #expect(m.nextDeadline == nil)
    }
}
