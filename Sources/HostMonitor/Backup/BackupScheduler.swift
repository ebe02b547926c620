import Core
import Foundation
import ServiceLifecycle

/// Runs backup policies: sleeps until something is due (or a policy
/// changes), then backs up each VM of the policy at the level due (with
/// its retention) or verifies its backups. Every run and failure goes to
/// the event log.
struct BackupScheduler: Service {
    let host: HostContext
    let backups: BackupService
    let policies: BackupPolicyService

    func run() async throws {
        await cancelWhenGracefulShutdown { await loop() }
    }

    private func loop() async {
        while !Task.isCancelled {
            let list = (try? host.store.backupPolicies()) ?? []
            let (work, next) = BackupPolicyPlan.due(list, now: Date())
            for w in work {
                let name: String
                switch w { case .backup(let p, _), .verify(let p): name = p }
                guard let p = (try? host.store.backupPolicies())?.first(where: { $0.name == name }) else { continue }
                try? host.store.saveBackupPolicy(BackupPolicyPlan.ran(w, p, at: Date()))
                await perform(w, p)
            }
            if !work.isEmpty { continue }
            let wait = min(max(next.map { $0.timeIntervalSinceNow } ?? 3600, 0.2), 3600)
            let changes = policies.changes
            await withTaskCancellationHandler { await changes.wait(seconds: wait) } onCancel: { changes.signal() }
        }
    }

    private func perform(_ w: BackupPolicyPlan.Work, _ p: BackupPolicy) async {
        for vm in p.vms {
            do {
                switch w {
                case .backup(_, let level):
                    let request = BackupRequest(level: level, destination: p.destination, compress: p.compress ? true : nil,
                                                keep: p.keep, rateLimitMiBs: p.rateLimitMiBs)
                    let op = try await backups.create(vm: vm, request, policy: p.name)
                    let ended = try await host.operations.wait(id: op.id, seconds: 86_400)
                    if ended?.state != .succeeded {
                        host.events.record(vmName: vm, kind: "backup",
                                           message: "backup policy \(p.name): the backup of \(vm) \(ended?.state.rawValue ?? "did not end"): \(ended?.error ?? "")")
                    }
                case .verify:
                    let (uuid, _) = try await host.resolve(vm)
                    _ = try await backups.verify(id: nil, vm: uuid, destination: p.destination)
                }
            } catch {
                host.events.record(vmName: vm, kind: "backup", message: "backup policy \(p.name) failed for \(vm): \(error)")
            }
        }
    }
}
