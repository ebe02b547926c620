import Core
import Foundation
import Libvirt

/// Host maintenance (`vigil host maintenance on|off`): switching it on
/// live-migrates every running VM to the peer with the most free memory
/// that can take it (highest HA priority first, then the biggest), as one
/// long operation of migrations; while it is on, this host starts no VM.
/// The mark is a file in the state directory, so it survives a restart.
struct HostMaintenance: Sendable {
    let host: HostContext
    let migrations: MigrationService
    let cache: DomainCache
    let defaultPolicy: ProtectionPolicy
    /// The hosts VMs may go to (`vigild --peer`).
    let peers: [String]
    /// `STATE_DIR/maintenance`.
    let markPath: String

    func status() -> MaintenanceStatus {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: markPath) else { return MaintenanceStatus(on: false) }
        return MaintenanceStatus(on: true, since: (attributes[.modificationDate] as? Date)?.timeIntervalSince1970)
    }

    /// Refuses to start a VM here while the host is in maintenance.
    func refusePlacement(_ what: String) throws {
        guard status().on else { return }
        throw APIError.conflict("this host is in maintenance: it does not \(what)", hint: "vigil host maintenance off, or use another host")
    }

    func set(_ r: MaintenanceRequest) async throws -> OperationInfo {
        guard r.on else {
            try? FileManager.default.removeItem(atPath: markPath)
            host.events.record(kind: "maintenance", message: "maintenance off: this host takes VMs again")
            return try await host.operations.start(kind: "maintenance-off", target: host.uri, cancellable: false) { _ in "maintenance off" }
        }
        guard !peers.isEmpty else {
            throw APIError.badRequest("no host to move the VMs to", hint: "start vigild with --peer URI for each other host")
        }
        FileManager.default.createFile(atPath: markPath, contents: Data())
        host.events.record(kind: "maintenance", message: "maintenance on: moving every running VM to \(peers.joined(separator: ", "))")
        let service = self
        return try await host.operations.start(kind: "maintenance", target: host.uri, cancellable: true) { ctx in
            let vms = try await service.runningByPriority()
            var moved: [String] = [], stayed: [String] = []
            for (i, vm) in vms.enumerated() {
                try Task.checkCancellation()
                ctx.progress(Double(i) / Double(max(vms.count, 1)), "moving \(vm.name) (\(i + 1) of \(vms.count))")
                if let to = await service.evacuate(vm) { moved.append("\(vm.name) → \(to)") } else { stayed.append(vm.name) }
            }
            let text = "maintenance on: moved \(moved.count) VM(s)" + (moved.isEmpty ? "" : " (\(moved.joined(separator: ", ")))")
                + (stayed.isEmpty ? "" : "; could not move \(stayed.joined(separator: ", ")): see the event log")
            service.host.events.record(kind: "maintenance", message: text, outcome: stayed.isEmpty ? "succeeded" : "partial")
            guard stayed.isEmpty else { throw APIError.conflict(text, hint: "move or shut down those VMs by hand") }
            return text
        }
    }

    /// Running VMs, high HA priority first, then the biggest.
    private func runningByPriority() async throws -> [(name: String, uuid: String)] {
        let conn = try host.connection()
        let cache = self.cache, defaults = defaultPolicy
        let rows = try await host.executor.run { () throws -> [(DomainSnapshot, UInt64)] in
            try conn.domains([.active]).map { (try cache.current($0, defaults: defaults), try $0.info().maxMemoryKiB) }
        }
        return rows.sorted { ($0.0.settings.haPriority.rank, -Int64($0.1), $0.0.name) < ($1.0.settings.haPriority.rank, -Int64($1.1), $1.0.name) }
            .map { ($0.0.name, $0.0.uuid) }
    }

    /// Migrates one VM to the first peer (by free memory) that takes it;
    /// returns where it went, or nil (the reasons are in the event log).
    private func evacuate(_ vm: (name: String, uuid: String)) async -> String? {
        let executor = host.executor
        let byFree = await withTaskGroup(of: (String, UInt64).self) { group in
            for uri in peers {
                group.addTask {
                    let free = try? await executor.run { () throws -> UInt64 in
                        let c = try Connection(uri: uri)
                        defer { c.close() }
                        return try c.availableMemory
                    }
                    return (uri, free ?? 0)
                }
            }
            var all: [(String, UInt64)] = []
            for await one in group { all.append(one) }
            return all.sorted { $0.1 > $1.1 }.map(\.0)
        }
        var reasons: [String] = []
        for peer in byFree {
            do {
                let op = try await migrations.migrate(vm: vm.uuid, MigrationRequest(destination: peer, live: true, timeoutSeconds: 120))
                let end = try await host.operations.wait(id: op.id, seconds: 3600)
                if end?.state == .succeeded { return peer }
                reasons.append("\(peer): \(end?.error ?? "did not finish")")
            } catch {
                reasons.append("\(peer): \(error)")
            }
        }
        host.events.record(vmUUID: vm.uuid, vmName: vm.name, kind: "maintenance",
                           message: "could not move it off this host: " + reasons.joined(separator: "; "), outcome: "failed")
        return nil
    }
}
