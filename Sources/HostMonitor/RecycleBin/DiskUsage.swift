import Foundation
import Libvirt

/// Which disk files other VMs use, directly or as a backing file of their
/// overlays, so a VM's disks are never deleted or moved from under another.
/// Files are compared by device and inode, so other paths to the same file
/// (symlinks, hard links) count too.
struct DiskUsage: Sendable {
    struct FileID: Hashable, Sendable { let device: UInt64, inode: UInt64 }

    /// File → who uses it, e.g. "VM web2" or "VM old1 in the recycle bin (entry 3)".
    private var users: [FileID: String] = [:]

    static func fileID(_ path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// The disk files of every other domain, and of the VMs in the recycle
    /// bin, with who uses each. Blocking (libvirt); call on the executor.
    static func disks(conn: Connection, excludingUUID: String, bin: [RecycleRecord]) throws -> [(path: String, user: String)] {
        var found: [(String, String)] = []
        for dom in try conn.domains() where dom.uuid != excludingUUID {
            let xml = (try? dom.xml([.inactive])) ?? ""
            found += DomainDefinition.diskFiles(in: xml).map { ($0.path, "VM \(dom.name)") }
        }
        for r in bin where r.vmUUID != excludingUUID {
            let user = "VM \(r.vmName) in the recycle bin (entry \(r.id ?? 0))"
            let moved = Dictionary(r.disks.map { ($0.original, $0.stored) }, uniquingKeysWith: { a, _ in a })
            found += DomainDefinition.diskFiles(in: r.xml).map { (moved[$0.path] ?? $0.path, user) }
        }
        return found
    }

    /// Notes every file in each disk's backing chain (`qemu-img info
    /// --backing-chain`); a file qemu-img cannot read counts alone.
    static func of(_ disks: [(path: String, user: String)]) async -> DiskUsage {
        var usage = DiskUsage()
        for (path, user) in disks {
            for file in (try? await DiskImage.backingChain(path)) ?? [path] {
                if let id = fileID(file), usage.users[id] == nil { usage.users[id] = user }
            }
        }
        return usage
    }

    /// Who else uses `path`, nil when nobody.
    func user(of path: String) -> String? {
        Self.fileID(path).flatMap { users[$0] }
    }
}

extension DiskUsage {
    /// Who else uses which disk file (other VMs, VMs in the bin), backing chains included.
    static func around(_ uuid: String, _ conn: Connection, _ host: HostContext) async throws -> DiskUsage {
        let bin = try host.store.recycled()
        return await DiskUsage.of(try await host.executor.run { try DiskUsage.disks(conn: conn, excludingUUID: uuid, bin: bin) })
    }
}
