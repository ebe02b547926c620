import Core
import Libvirt
import Logging
import Synchronization

/// The daemon's one libvirt connection as the areas see it: the live
/// connection, or an error saying libvirtd is unreachable. Only the
/// connection loop (`MonitorService`) sets it.
public final class ConnectionProvider: Sendable {
    public let uri: String
    private let current = Mutex<Connection?>(nil)

    init(uri: String) { self.uri = uri }

    func connection() throws -> Connection {
        guard let conn = current.withLock({ $0 }), conn.isAlive else {
            throw APIError.unavailable("not connected to libvirt at \(uri)",
                                       hint: "check that libvirtd is running; vigild reconnects by itself")
        }
        return conn
    }

    /// The connection last opened, alive or not (to reconnect it).
    var last: Connection? { current.withLock { $0 } }

    func set(_ conn: Connection) { current.withLock { $0 = conn } }
}

/// What every area of vigild works with: the libvirt connection, the
/// blocking executor for libvirt calls, the event log, the journal of long
/// operations and the state database. Areas get this and the few things
/// of their own they need, never the daemon itself.
struct HostContext: Sendable {
    let libvirt: ConnectionProvider
    let executor: BlockingExecutor
    let events: EventLog
    let operations: OperationCenter
    let store: StateStore
    let logger: Logger

    /// This host's libvirt URI.
    var uri: String { libvirt.uri }

    func connection() throws -> Connection { try libvirt.connection() }

    /// A VM by name or UUID, as its UUID and name.
    func resolve(_ vm: String) async throws -> (uuid: String, name: String) {
        let conn = try connection()
        return try await executor.run { () throws -> (String, String) in
            let dom = try conn.domain(nameOrUUID: vm)
            return (dom.uuid, dom.name)
        }
    }
}

/// What an area may do to the daemon's view of a VM that left this host
/// (deleted, destroyed, moved): stop its agent session and forget it.
struct GuestTracking: Sendable {
    let center: ProtectionCenter
    let watchers: WatcherSet

    func forget(_ uuid: String) async {
        await watchers.stop(uuid)
        await center.forget(uuid)
    }
}
