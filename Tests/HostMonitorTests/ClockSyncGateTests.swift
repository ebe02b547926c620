@testable import HostMonitor
import Synchronization
import Testing

/// Clock syncs of one VM never overlap (two would both correct the same
/// offset); other VMs' syncs are not held up; a failed sync does not block
/// the next.
@Suite struct ClockSyncGateTests {
    final class Tally: Sendable {
        let state = Mutex<(running: [String: Int], maxPerVM: Int, maxOverall: Int, overall: Int)>(([:], 0, 0, 0))
        func enter(_ vm: String) {
            state.withLock {
                $0.running[vm, default: 0] += 1
                $0.overall += 1
                $0.maxPerVM = max($0.maxPerVM, $0.running[vm] ?? 0)
                $0.maxOverall = max($0.maxOverall, $0.overall)
            }
        }
        func leave(_ vm: String) { state.withLock { $0.running[vm, default: 1] -= 1; $0.overall -= 1 } }
    }

    struct Boom: Error {}

    @Test func oneSyncPerVMAtATime() async throws {
        let gate = ClockSyncGate(), tally = Tally()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<12 {
                let vm = i % 2 == 0 ? "a" : "b"
                group.addTask {
                    do {
                        return try await gate.run(vm) {
                            tally.enter(vm)
                            defer { tally.leave(vm) }
                            try await Task.sleep(for: .milliseconds(30))
                            if i == 0 { throw Boom() }
                            return i
                        }
                    } catch is Boom {
                        return -1
                    }
                }
            }
            var results: [Int] = []
            for try await r in group { results.append(r) }
            #expect(results.sorted() == [-1] + Array(1..<12), "every sync ran, the failed one reported its error")
        }
        let s = tally.state.withLock { $0 }
        #expect(s.maxPerVM == 1, "two syncs of one VM overlapped")
        #expect(s.maxOverall == 2, "syncs of different VMs should run side by side")
    }
}
