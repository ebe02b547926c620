import Core
@testable import HostMonitor
import Testing

/// Decisions of the crash-protection state machine, driven by made-up instants.
@Suite struct ProtectionStateMachineTests {
    typealias Machine = ProtectionStateMachine<ContinuousClock.Instant>
    let t0 = ContinuousClock.now
    func at(_ s: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int(s * 1000)) }

    func policy(_ action: CrashAction = .restart, maxResets: Int = 3) -> ProtectionPolicy {
        ProtectionPolicy(onCrash: action, heartbeatIntervalMs: 1000, misses: 3, minUptimeSeconds: 10,
                         maxResets: maxResets, windowSeconds: 600)
    }

    func aliveMachine(_ p: ProtectionPolicy) -> Machine {
        var m = Machine(policy: p, hasChannel: true)
        m.domainStarted(at: at(0))
        m.agentHello(at: at(2))
        return m
    }

    @Test func panicTriggersThePolicyOnce() {
        var m = aliveMachine(policy(.restart))
        #expect(m.domainCrashed(panicked: true, at: at(20)) == [.recover(.panic, .restart)])
        // A second signal for the same failure (e.g. heartbeat loss) is not acted on.
        #expect(m.tick(at: at(30)) == [])
        #expect(m.watchdogFired(at: at(31)) == [])
        #expect(m.recovering)
    }

    @Test func ignorePolicyOnlyRecords() {
        var m = aliveMachine(policy(.ignore))
        #expect(m.domainCrashed(panicked: true, at: at(20)) == [.recordOnly(.panic)])
        #expect(!m.recovering)
    }

    @Test func haOffOnlyRecordsWhateverThePolicy() {
        var m = aliveMachine(policy(.migrate))
        m.haEnabled = false
        #expect(m.domainCrashed(panicked: true, at: at(20)) == [.recordOnly(.panic)])
        #expect(!m.recovering)
        m.haEnabled = true
        #expect(m.watchdogFired(at: at(21)) == [.recover(.watchdog, .migrate)])
    }

    @Test func heartbeatLossAfterTheWindowIsAHang() {
        var m = aliveMachine(policy(.migrate))
        m.agentHeartbeat(at: at(20))
        #expect(m.tick(at: at(22.9)) == [])
        #expect(m.agent == .alive)
        let actions = m.tick(at: at(23.1))
        #expect(actions == [.recover(.heartbeatLoss(silentMs: 3100), .migrate)])
        #expect(m.agent == .lost)
    }

    @Test func noHeartbeatLossBeforeMinimumUptime() {
        var m = aliveMachine(policy())
        // Silent from 2 s; window 3 s; min uptime 10 s.
        #expect(m.tick(at: at(6)) == [])
        #expect(m.agent == .lost)
        // Still silent once the minimum uptime has passed: now it counts.
        #expect(m.tick(at: at(10.5)) == [.recover(.heartbeatLoss(silentMs: 8500), .restart)])
    }

    @Test func agentThatNeverSpokeIsNotAFailure() {
        var m = Machine(policy: policy(), hasChannel: true)
        m.domainStarted(at: at(0))
        #expect(m.agent == .connecting)
        #expect(m.tick(at: at(100)) == [])
        #expect(m.agent == .connecting)
    }

    @Test func cleanGoodbyeIsNotAFailure() {
        var m = aliveMachine(policy())
        m.agentGoodbye()
        #expect(m.agent == .departed)
        #expect(m.tick(at: at(100)) == [])
        // It may come back later and is watched again.
        m.agentHello(at: at(101))
        #expect(m.agent == .alive)
        #expect(m.tick(at: at(105)).count == 1)
    }

    @Test func pausedOrMigratingGuestIsNotHung() {
        var m = aliveMachine(policy())
        m.agentHeartbeat(at: at(20))
        m.domainPaused()
        #expect(m.tick(at: at(60)) == [])
        // After resume the silence counts from the resume.
        m.domainResumed(at: at(60))
        #expect(m.tick(at: at(62)) == [])
        #expect(m.tick(at: at(63.5)).count == 1)

        var n = aliveMachine(policy())
        n.agentHeartbeat(at: at(20))
        n.migrationStarted()
        #expect(n.tick(at: at(60)) == [])
    }

    @Test func unprotectedVMNeverFailsOnHeartbeat() {
        var m = Machine(policy: policy(), hasChannel: false)
        m.domainStarted(at: at(0))
        m.agentHello(at: at(1))
        #expect(m.agent == .unprotected)
        #expect(m.tick(at: at(100)) == [])
        // A pvpanic still counts: it needs no agent.
        #expect(m.domainCrashed(panicked: true, at: at(101)) == [.recover(.panic, .restart)])
    }

    @Test func resetLimitRaisesOneAlertThenStops() {
        var m = aliveMachine(policy(maxResets: 2))
        for i in 0..<2 {
            #expect(m.domainCrashed(panicked: true, at: at(Double(20 + i * 30))) == [.recover(.panic, .restart)])
            m.recoveryFinished()
            m.domainStarted(at: at(Double(21 + i * 30)))
        }
        let third = m.domainCrashed(panicked: true, at: at(90))
        guard case .alert(let text)? = third.first else { Issue.record("expected alert, got \(third)"); return }
        #expect(text.contains("limit of 2"))
        #expect(m.domainCrashed(panicked: true, at: at(95)) == [.recordOnly(.panic)])
        // Once the window has passed, recovery resumes.
        #expect(m.domainCrashed(panicked: true, at: at(700)) == [.recover(.panic, .restart)])
    }

    @Test func adoptedGuestThatWasAliveIsWatchedAtOnce() {
        var m = Machine(policy: policy(), hasChannel: true, recentRecoveries: [])
        m.adoptRunning(at: at(0), agentWasAlive: true)
        #expect(m.agent == .alive)
        // Its first silence is still covered by the minimum uptime grace...
        #expect(m.tick(at: at(5)) == [])
        // ...and a hung guest is caught after it.
        #expect(m.tick(at: at(11)).count == 1)
    }

    @Test func rebootRestartsTheGraceClock() {
        var m = aliveMachine(policy())
        m.agentHeartbeat(at: at(50))
        m.guestRebooted(at: at(51))
        #expect(m.agent == .connecting)
        #expect(m.tick(at: at(58)) == [])
        m.agentHello(at: at(54))
        #expect(m.agent == .alive)
    }
}

/// The HA priority orders recoveries that fall due together.
@Suite struct HAPriorityOrderTests {
    @Test func hangsDueAtTheSameTickAreRecoveredHighPriorityFirst() async {
        let center = ProtectionCenter()
        let policy = ProtectionPolicy(onCrash: .restart, heartbeatIntervalMs: 100, misses: 1, minUptimeSeconds: 0)
        let t0 = ContinuousClock.now
        for (uuid, priority) in [("a-low", HAPriority.low), ("b-high", .high), ("c-medium", .medium), ("d-high", .high)] {
            await center.track(uuid: uuid, name: uuid, policy: policy, hasChannel: true, recentRecoveries: [])
            await center.mutate(uuid) {
                $0.settings.haPriority = priority
                $0.machine.domainStarted(at: t0)
                $0.machine.agentHello(at: t0)
            }
        }
        let due = await center.tickAll(at: t0 + .seconds(1))
        #expect(due.map(\.uuid) == ["b-high", "d-high", "c-medium", "a-low"])
    }
}
