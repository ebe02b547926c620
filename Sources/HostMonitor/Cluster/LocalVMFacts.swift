import Core
import Foundation
import Libvirt
import Synchronization

/// What the cluster needs to know of this host's VMs, read in one blocking
/// call. Definitions are read again only every few seconds (an XML dump
/// per VM is the costly part); state and settings every time.
final class LocalVMFacts: Sendable {
    struct VM: Sendable, Equatable {
        var uuid: String
        var name: String
        var active: Bool
        var memoryMiB: Int
        var vcpus: Int
        var ha: Bool
        var priority: HAPriority
        /// Every disk file lies on shared storage (at least one disk).
        var onSharedStorage: Bool
        var xml: String

        /// The cluster restarts it elsewhere when this host fails.
        var isProtected: Bool { ha && onSharedStorage }
    }

    private let shared: SharedStorage
    private let cache = Mutex<[String: (xml: String, shared: Bool, at: ContinuousClock.Instant)]>([:])
    private static let xmlMaxAge: Duration = .seconds(10)

    init(shared: SharedStorage) { self.shared = shared }

    func read(_ conn: Connection) throws -> [String: VM] {
        var vms: [String: VM] = [:]
        let now = ContinuousClock.now
        for dom in try conn.domains([.persistent]) {
            let uuid = dom.uuid
            guard let info = try? dom.info() else { continue }
            let settings = (try? dom.metadata(namespaceURI: SettingsMetadata.namespaceURI)).map(SettingsMetadata.parse) ?? VMSettings()
            var entry = cache.withLock { $0[uuid] }
            if entry.map({ $0.at.duration(to: now) > Self.xmlMaxAge }) ?? true {
                guard let xml = try? dom.xml([.inactive, .secure]) else { continue }
                let disks = DomainXML.diskSources(in: xml)
                entry = (xml, !disks.isEmpty && disks.allSatisfy(shared.contains), now)
                cache.withLock { $0[uuid] = entry }
            }
            guard let entry else { continue }
            vms[uuid] = VM(uuid: uuid, name: dom.name, active: (try? dom.isActive) ?? false,
                           memoryMiB: Int(info.maxMemoryKiB / 1024), vcpus: info.vcpus, ha: settings.haEnabled, priority: settings.haPriority,
                           onSharedStorage: entry.shared, xml: entry.xml)
        }
        cache.withLock { c in c = c.filter { vms[$0.key] != nil } }
        return vms
    }

    /// Forgets a definition so the next read takes it afresh (it was just redefined).
    func invalidate(_ uuid: String) { cache.withLock { $0[uuid] = nil } }
}
