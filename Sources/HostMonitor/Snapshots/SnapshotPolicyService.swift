import Core
import Foundation
import Synchronization

/// Snapshot policies in the API (`/v1/snapshot-policies…`); a change wakes
/// the scheduler so a new schedule counts at once.
struct SnapshotPolicyService: Sendable {
    let host: HostContext
    let changes = WakeSignal()

    func list() throws -> SnapshotPolicyList { SnapshotPolicyList(policies: try host.store.snapshotPolicies()) }

    /// Creates or replaces a policy; every VM it names must exist now.
    func set(_ p: SnapshotPolicy) async throws -> SnapshotPolicy {
        let hint = "vigil snapshot policy set NAME --vm VM... --schedule 'every 6h'|'daily 02:00'|'weekly mon,thu 02:00' --keep N"
        var problems = p.problems
        for vm in p.vms {
            do { _ = try await host.resolve(vm) } catch { problems.append("no VM '\(vm)' on this host") }
        }
        guard problems.isEmpty else { throw APIError.badRequest(problems.joined(separator: "; "), hint: hint) }
        var saved = p
        // A replaced policy keeps its rhythm.
        let previous = try host.store.snapshotPolicies().first { $0.name == p.name }
        saved.lastRun = previous.map { $0.lastRun } ?? p.schedule.firstAnchor(now: Date())
        try host.store.saveSnapshotPolicy(saved)
        host.events.record(kind: "snapshot", message: "snapshot policy \(p.name) set: \(p.vms.joined(separator: ", ")), \(p.schedule), keep \(p.keep)")
        changes.signal()
        return saved
    }

    /// Returns the deleted policy.
    func delete(_ name: String) throws -> SnapshotPolicy {
        guard let policy = try host.store.snapshotPolicies().first(where: { $0.name == name }),
              try host.store.deleteSnapshotPolicy(name) else {
            throw APIError.notFound("no snapshot policy named '\(name)'", hint: "list them with 'vigil snapshot policy list'")
        }
        host.events.record(kind: "snapshot", message: "snapshot policy \(name) deleted (its snapshots stay)")
        changes.signal()
        return policy
    }
}

/// Wakes one waiter early (a sleep that a change cuts short); a signal with
/// no one waiting is kept for the next wait.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (token: UUID, continuation: CheckedContinuation<Void, Never>)?
    }
    private let state = Mutex(State())

    func signal() {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else { s.pending = true; return nil }
            s.waiter = nil
            return w.continuation
        }
        c?.resume()
    }

    /// Returns after `seconds`, or sooner when signalled.
    func wait(seconds: Double) async {
        let token = UUID()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.pending { s.pending = false; return true }
                s.waiter = (token, c)
                return false
            }
            if now { return c.resume() }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                self.expire(token)
            }
        }
    }

    /// The timer of wait `token` ran out (unless a signal came first).
    private func expire(_ token: UUID) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.waiter?.token == token else { return nil }
            defer { s.waiter = nil }
            return s.waiter?.continuation
        }
        c?.resume()
    }
}
