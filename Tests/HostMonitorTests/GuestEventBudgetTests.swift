import Foundation
@testable import HostMonitor
import Testing
import TestSupport

/// What one guest may put in the host's event log, over a made-up clock.
@Suite struct GuestEventBudgetTests {
    let t0 = ContinuousClock.now
    func at(_ s: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int(s * 1000)) }

    @Test func aFloodIsBoundedWithOneSummaryPerInterval() {
        var budget = EventBudget(now: at(0))
        var recorded = 0, summaries: [Int] = [], dropped = 0
        // 10 events a second for ten minutes.
        for i in 0..<6000 {
            switch budget.admit(at: at(Double(i) / 10)) {
            case .record(let before):
                recorded += 1
                if before > 0 { summaries.append(before) }
            case .suppress(let summary):
                dropped += 1
                if let summary { summaries.append(summary) }
            }
        }
        // Burst 6, then one per 10 s: 6 + 60 over 600 s.
        #expect(recorded >= 60 && recorded <= 67)
        #expect(summaries.count <= 11, "at most one summary per minute")
        #expect(summaries.count >= 9)
        #expect(summaries.reduce(0, +) <= dropped, "summaries count what was dropped, never more")
        #expect(dropped - summaries.reduce(0, +) < 600, "what is still uncounted is less than a minute's flood")
        #expect(recorded + dropped == 6000)
    }

    @Test func aQuietGuestLogsEverything() {
        var budget = EventBudget(now: at(0))
        // One event every 15 s (slower than the refill): never suppressed.
        for i in 0..<100 {
            #expect(budget.admit(at: at(Double(i) * 15)) == .record(suppressedBefore: 0))
        }
    }

    @Test func summariesComeAtMostOncePerInterval() {
        var budget = EventBudget(limits: .init(burst: 1, refillSeconds: 10, summarySeconds: 60), now: at(0))
        #expect(budget.admit(at: at(0)) == .record(suppressedBefore: 0))
        #expect(budget.admit(at: at(1)) == .suppress(summary: 1), "the first suppression is summarized at once")
        #expect(budget.admit(at: at(2)) == .suppress(summary: nil))
        #expect(budget.admit(at: at(3)) == .suppress(summary: nil))
        #expect(budget.admit(at: at(11)) == .record(suppressedBefore: 0), "a summary came 10 s ago: the count waits")
        #expect(budget.admit(at: at(12)) == .suppress(summary: nil))
        #expect(budget.admit(at: at(61)) == .record(suppressedBefore: 3), "a minute later the next event carries it")
    }

    @Test func crashReportsOncePerBootAndHelloWorkIsThrottled() {
        let budgets = GuestEventBudget()
        #expect(budgets.firstCrashReport("vm1", boot: "b1"))
        #expect(!budgets.firstCrashReport("vm1", boot: "b1"))
        #expect(budgets.firstCrashReport("vm2", boot: "b1"), "per VM")
        #expect(budgets.firstCrashReport("vm1", boot: "b2"), "a new boot may report again")
        #expect(budgets.helloWork("vm1", boot: "b1", at: at(0)))
        #expect(!budgets.helloWork("vm1", boot: "b1", at: at(5)), "the same boot: at most once per 10 s")
        #expect(budgets.helloWork("vm1", boot: "b1", at: at(10.5)))
        #expect(!budgets.helloWork("vm1", boot: "b2", at: at(11)), "a new boot: not within 2 s either")
        #expect(budgets.helloWork("vm1", boot: "b3", at: at(13)))
    }

    @Test func retentionRemovesOldAndExcessEventsOnly() async throws {
        let dir = try TemporaryDirectory("er")
        defer { dir.remove() }
        let store = try StateStore(directory: dir.path)
        let now = Date()
        for i in 0..<50 {
            var old = EventRecord(vmUUID: "u", vmName: "a", kind: "agent", message: "old \(i)")
            old.time = now.timeIntervalSince1970 - 40 * 86_400
            try store.record(old)
        }
        for i in 0..<3000 { try store.record(EventRecord(vmUUID: "u", vmName: "a", kind: "agent", message: "new \(i)")) }
        let retention = EventRetention(store: store, logger: .init(label: "test"), maxAgeDays: 30, maxCount: 1000, batch: 700)
        #expect(try await retention.prune(now: now) == 50 + 2000)
        let left = try store.events(limit: 5000)
        #expect(left.count == 1000)
        #expect(left.first?.message == "new 2000" && left.last?.message == "new 2999", "the newest are kept")
        #expect(try await retention.prune(now: now) == 0)
    }
}
