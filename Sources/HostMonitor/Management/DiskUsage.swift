import Foundation
import Libvirt

/// Which disk files other VMs use, directly or as a backing file of their
/// overlays, so a VM's disks are never deleted or moved from under another.
/// Files are compared by device and inode, so other paths to the same file
/// (symlinks, hard links) count too.
struct DiskUsage {
    struct FileID: Hashable { let device: UInt64, inode: UInt64 }

    /// File → who uses it, e.g. "VM web2" or "VM old1 in the recycle bin (entry 3)".
    private var users: [FileID: String] = [:]

    static func fileID(_ path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Reads every other domain's disks and their backing chains, and those
    /// of the VMs in the recycle bin.
    init(conn: Connection, excludingUUID: String, bin: [RecycleRecord]) throws {
        for dom in try conn.domains() where dom.uuid != excludingUUID {
            let xml = (try? dom.xml([.inactive])) ?? ""
            for disk in DomainXML.disks(in: xml) { note(disk.path, user: "VM \(dom.name)") }
        }
        for r in bin where r.vmUUID != excludingUUID {
            let user = "VM \(r.vmName) in the recycle bin (entry \(r.id ?? 0))"
            let moved = Dictionary(r.disks.map { ($0.original, $0.stored) }, uniquingKeysWith: { a, _ in a })
            for disk in DomainXML.disks(in: r.xml) { note(moved[disk.path] ?? disk.path, user: user) }
        }
    }

    private mutating func note(_ path: String, user: String) {
        for file in Self.chain(path) {
            if let id = Self.fileID(file), users[id] == nil { users[id] = user }
        }
    }

    /// Who else uses `path`, nil when nobody.
    func user(of path: String) -> String? {
        Self.fileID(path).flatMap { users[$0] }
    }

    /// `path` and its backing files, from `qemu-img info --backing-chain`
    /// (`-U`: readable while a VM runs). A file qemu-img cannot read counts alone.
    static func chain(_ path: String) -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-img")
        p.arguments = ["info", "-U", "--backing-chain", "--output=json", path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return [path] }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let images = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else { return [path] }
        return [path] + images.compactMap { $0["filename"] as? String }
    }
}
