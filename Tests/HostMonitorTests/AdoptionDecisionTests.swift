import Core
@testable import HostMonitor
import Testing

/// How a restarted vigild takes over a running VM, from its event log.
@Suite struct AdoptionDecisionTests {
    typealias Step = AdoptionDecision.Step

    @Test func withoutARecentFailureTheAgentIsTakenAsLastSeen() {
        #expect(AdoptionDecision.decide(agentWasAlive: true, lastStep: nil, lastHello: 100) == .asLastSeen(agentWasAlive: true))
        #expect(AdoptionDecision.decide(agentWasAlive: false, lastStep: nil, lastHello: nil) == .asLastSeen(agentWasAlive: false))
    }

    @Test func aFinishedRecoveryNotYetFollowedByAHelloMeansBooting() {
        let step = Step(kind: "recovery", outcome: "succeeded", time: 200)
        #expect(AdoptionDecision.decide(agentWasAlive: true, lastStep: step, lastHello: 150) == .booting)
        #expect(AdoptionDecision.decide(agentWasAlive: true, lastStep: step, lastHello: nil) == .booting)
        // The guest came back and said hello: an ordinary adoption.
        #expect(AdoptionDecision.decide(agentWasAlive: true, lastStep: step, lastHello: 215) == .asLastSeen(agentWasAlive: true))
    }

    @Test func aDetectedFailureWithoutItsRecoveryIsAnInterruptedRecovery() {
        let step = Step(kind: "failure", outcome: "detected", time: 200)
        #expect(AdoptionDecision.decide(agentWasAlive: true, lastStep: step, lastHello: 100) == .recoveryInterrupted)
        #expect(AdoptionDecision.decide(agentWasAlive: false, lastStep: step, lastHello: 100) == .recoveryInterrupted)
        #expect(AdoptionDecision.decide(agentWasAlive: true, lastStep: step, lastHello: 230) == .asLastSeen(agentWasAlive: true))
    }

    @Test func failedOrIgnoredStepsChangeNothing() {
        for step in [Step(kind: "recovery", outcome: "failed", time: 200), Step(kind: "failure", outcome: "ignored", time: 200)] {
            #expect(AdoptionDecision.decide(agentWasAlive: true, lastStep: step, lastHello: 100) == .asLastSeen(agentWasAlive: true))
        }
    }

    @Test func anAdoptedAgentGetsTheReconnectGraceBeforeSilenceCounts() {
        let t0 = ContinuousClock.now
        let p = ProtectionPolicy(onCrash: .restart, heartbeatIntervalMs: 1000, misses: 1, minUptimeSeconds: 0, maxResets: 3, windowSeconds: 600)
        var m = ProtectionStateMachine<ContinuousClock.Instant>(policy: p, hasChannel: true)
        m.adoptRunning(at: t0, agentWasAlive: true, grace: .seconds(5))
        #expect(m.agent == .alive)
        #expect(m.tick(at: t0 + .seconds(3)) == [], "within the grace: the agent is still reconnecting")
        #expect(m.tick(at: t0 + .milliseconds(5001)) == [.recover(.heartbeatLoss(silentMs: 5001), .restart)])
    }
}

/// What the first hello after an interrupted recovery says about it.
@Suite struct InterruptedRecoveryTests {
    let pending = InterruptedRecoveries.Pending(bootBefore: "boot-a", cause: "panic", action: "restart", detectedAt: 100)

    @Test func aHelloFromANewBootMeansTheResetWasDone() {
        let r = InterruptedRecoveries()
        r.remember("vm", pending)
        #expect(r.settle("vm", helloFrom: "boot-b") == pending)
        #expect(r.settle("vm", helloFrom: "boot-c") == nil, "settled once")
    }

    @Test func aHelloFromTheSameBootMeansItNeverHappened() {
        let r = InterruptedRecoveries()
        r.remember("vm", pending)
        #expect(r.settle("vm", helloFrom: "boot-a") == nil)
        #expect(r.settle("vm", helloFrom: "boot-b") == nil, "nothing left to settle")
    }

    @Test func otherVMsAreNotSettled() {
        let r = InterruptedRecoveries()
        r.remember("vm", pending)
        #expect(r.settle("other", helloFrom: "boot-b") == nil)
        #expect(r.settle("vm", helloFrom: "boot-b") == pending)
    }
}
