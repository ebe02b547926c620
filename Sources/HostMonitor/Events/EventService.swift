import Core
import Foundation

/// The event log in the API: by VM, since a time or after an id, with a
/// long poll for `vigil events --follow`.
struct EventService: Sendable {
    let host: HostContext
    let center: ProtectionCenter

    /// Events after `afterID` (or since `since`); with `waitSeconds`, waits
    /// up to that long for the first new one (long poll for `--follow`).
    func eventList(vm: String?, since: Date?, afterID: Int64?, waitSeconds: Int) async throws -> [VigilEvent] {
        var uuid: String?
        if let vm {
            if let known = await center.all.first(where: { $0.value.name == vm || $0.key == vm }) {
                uuid = known.key
            } else if let logged = try host.store.loggedVMUUID(nameOrUUID: vm) {
                uuid = logged
            } else {
                let conn = try host.connection()
                uuid = try await host.executor.run { try conn.domain(nameOrUUID: vm).uuid }
            }
        }
        let deadline = Date().addingTimeInterval(Double(min(max(waitSeconds, 0), 60)))
        while true {
            let found = try host.store.events(vmUUID: uuid, since: since, afterID: afterID).map(\.api)
            if !found.isEmpty || Date() >= deadline { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
