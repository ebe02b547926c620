import Core
@testable import HostMonitor
import Logging
import Testing
import TestSupport

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

    /// A state store of its own, removed with the fixture.
    final class Fixture {
        let dir: TemporaryDirectory
        let store: StateStore
        let recoveries: InterruptedRecoveries

        init() throws {
            dir = try TemporaryDirectory("ir")
            store = try StateStore(directory: dir.path + "/state")
            let logger = Logger(label: "test")
            recoveries = InterruptedRecoveries(events: EventLog(store: store, logger: logger), logger: logger)
        }

        deinit { dir.remove() }

        func recoveriesLogged(_ uuid: String) throws -> [EventRecord] {
            try store.events(vmUUID: uuid, kinds: ["recovery"])
        }
    }

    @Test func aHelloFromANewBootMeansTheResetWasDone() throws {
        let f = try Fixture()
        f.recoveries.remember("vm", pending)
        #expect(f.recoveries.settle("vm", helloFrom: "boot-b") == pending)
        #expect(f.recoveries.settle("vm", helloFrom: "boot-c") == nil, "settled once")
    }

    @Test func aHelloFromTheSameBootMeansItNeverHappened() throws {
        let f = try Fixture()
        f.recoveries.remember("vm", pending)
        #expect(f.recoveries.settle("vm", helloFrom: "boot-a") == nil)
        #expect(f.recoveries.settle("vm", helloFrom: "boot-b") == nil, "nothing left to settle")
    }

    @Test func otherVMsAreNotSettled() throws {
        let f = try Fixture()
        f.recoveries.remember("vm", pending)
        #expect(f.recoveries.settle("other", helloFrom: "boot-b") == nil)
        #expect(f.recoveries.settle("vm", helloFrom: "boot-b") == pending)
    }

    @Test func theRecoveryIsLoggedOnceAtTheHelloFromANewBoot() throws {
        let f = try Fixture()
        f.recoveries.remember("vm", pending)
        f.recoveries.helloArrived("vm", name: "web", boot: "boot-b")
        f.recoveries.helloArrived("vm", name: "web", boot: "boot-c")
        let logged = try f.recoveriesLogged("vm")
        #expect(logged.count == 1)
        #expect(logged.first?.cause == "panic" && logged.first?.action == "restart" && logged.first?.outcome == "succeeded")

        f.recoveries.remember("vm2", pending)
        f.recoveries.helloArrived("vm2", name: "db", boot: "boot-a")
        #expect(try f.recoveriesLogged("vm2").isEmpty, "the same boot: no reset happened, nothing to log")
    }
}
