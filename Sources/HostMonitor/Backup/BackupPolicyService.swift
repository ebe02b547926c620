import Core
import Foundation

/// Backup policies in the API (`/v1/backup-policies…`); a change wakes the
/// scheduler so a new schedule counts at once.
struct BackupPolicyService: Sendable {
    let host: HostContext
    let backups: BackupService
    let changes = WakeSignal()

    func list() throws -> BackupPolicyList { BackupPolicyList(policies: try host.store.backupPolicies()) }

    /// Creates or replaces a policy; its VMs must exist and its destination must answer now.
    func set(_ p: BackupPolicy) async throws -> BackupPolicy {
        let hint = "vigil backup policy set NAME --vm VM... --schedule 'daily 01:00' [--full-schedule 'weekly sun 01:00'] [--keep N] [--destination D]"
        var problems = p.problems
        for vm in p.vms {
            do { _ = try await host.resolve(vm) } catch { problems.append("no VM '\(vm)' on this host") }
        }
        do { _ = try await backups.list(vm: nil, destination: p.destination) } catch {
            problems.append("the destination cannot be used: \(error)")
        }
        guard problems.isEmpty else { throw APIError.badRequest(problems.joined(separator: "; "), hint: hint) }
        var saved = p
        // A replaced policy keeps its rhythm.
        if let old = try host.store.backupPolicies().first(where: { $0.name == p.name }) {
            saved.lastRun = old.lastRun
            saved.lastFull = old.lastFull
            saved.lastVerify = old.lastVerify
        } else {
            let now = Date()
            saved.lastRun = p.schedule.firstAnchor(now: now)
            saved.lastFull = p.fullSchedule?.firstAnchor(now: now)
            saved.lastVerify = p.verifySchedule?.firstAnchor(now: now)
        }
        try host.store.saveBackupPolicy(saved)
        host.events.record(kind: "backup", message: "backup policy \(p.name) set: \(p.vms.joined(separator: ", ")), \(p.schedule) \(p.level.rawValue)"
                           + (p.fullSchedule.map { ", full \($0)" } ?? "") + (p.keep.map { ", keep \($0)" } ?? ""))
        changes.signal()
        return saved
    }

    func delete(_ name: String) throws -> BackupPolicy {
        guard let policy = try host.store.backupPolicies().first(where: { $0.name == name }),
              try host.store.deleteBackupPolicy(name) else {
            throw APIError.notFound("no backup policy named '\(name)'", hint: "list them with 'vigil backup policy list'")
        }
        host.events.record(kind: "backup", message: "backup policy \(name) deleted (its backups stay)")
        changes.signal()
        return policy
    }
}
