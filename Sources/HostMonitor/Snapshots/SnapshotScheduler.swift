import Core
import Foundation
import ServiceLifecycle

/// Runs snapshot policies: sleeps until the next one is due (or a policy
/// changes), takes each VM's snapshot, then deletes that policy's oldest
/// snapshots beyond its count. A VM whose storage is nearly full is
/// skipped. Every run, skip and prune goes to the event log.
struct SnapshotScheduler: Service {
    let host: HostContext
    let snapshots: SnapshotService
    let policies: SnapshotPolicyService

    func run() async throws {
        await cancelWhenGracefulShutdown { await loop() }
    }

    private func loop() async {
        while !Task.isCancelled {
            let list = (try? host.store.snapshotPolicies()) ?? []
            let (due, next) = SnapshotPolicyPlan.due(list, now: Date())
            for name in due {
                guard var p = list.first(where: { $0.name == name }) else { continue }
                p.lastRun = Date().timeIntervalSince1970
                try? host.store.saveSnapshotPolicy(p)
                await runPolicy(p)
            }
            if !due.isEmpty { continue }
            let wait = min(max(next.map { $0.timeIntervalSinceNow } ?? 3600, 0.2), 3600)
            let changes = policies.changes
            await withTaskCancellationHandler { await changes.wait(seconds: wait) } onCancel: { changes.signal() }
        }
    }

    private func runPolicy(_ p: SnapshotPolicy) async {
        for vm in p.vms {
            do {
                try await snapshotAndPrune(vm, p)
            } catch {
                host.events.record(vmName: vm, kind: "snapshot", message: "snapshot policy \(p.name) failed for \(vm): \(error)")
            }
        }
    }

    private func snapshotAndPrune(_ vm: String, _ p: SnapshotPolicy) async throws {
        let (uuid, name) = try await host.resolve(vm)
        if let dir = try await storageDirectory(vm), let free = FileFacts.freePercent(dir), free < Double(p.minFreePercent) {
            host.events.record(vmUUID: uuid, vmName: name, kind: "snapshot",
                               message: "snapshot policy \(p.name) skipped \(name): \(dir) is \(Int(free)) % free, below \(p.minFreePercent) %")
            return
        }
        let state = try await host.executor.run { [conn = try host.connection()] in try conn.domain(uuid: uuid).state().state }
        let request = SnapshotRequest(name: SnapshotPolicyPlan.snapshotName(policy: p.name, at: Date()),
                                      description: "taken by snapshot policy \(p.name) (\(p.schedule))",
                                      memory: p.memory && (state == .running || state == .paused) ? true : nil)
        let op = try await snapshots.create(vm: uuid, request, policy: p.name)
        let ended = try await host.operations.wait(id: op.id, seconds: 3600)
        guard ended?.state == .succeeded else { return }
        // What this policy made and libvirt still has.
        let have = Set(try await snapshots.list(vm: uuid).snapshots.filter { $0.policy == p.name }.map(\.name))
        let made = try host.store.snapshotOriginTimes(vmUUID: uuid, policy: p.name).filter { have.contains($0.name) }
        for old in SnapshotPolicyPlan.prune(made, keep: p.keep) {
            let del = try await snapshots.delete(vm: uuid, snapshot: old, subtree: false)
            _ = try await host.operations.wait(id: del.id, seconds: 3600)
        }
    }

    private func storageDirectory(_ vm: String) async throws -> String? {
        let conn = try host.connection()
        let xml = try await host.executor.run { try conn.domain(nameOrUUID: vm).xml([.inactive]) }
        return DomainDefinition.diskFiles(in: xml).first { $0.isOwned }.map { URL(fileURLWithPath: $0.path).deletingLastPathComponent().path }
    }
}
