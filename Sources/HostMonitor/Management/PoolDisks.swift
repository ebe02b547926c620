import Core
import Libvirt

/// New VM disks made as volumes of libvirt storage pools. Only pools whose
/// volumes are files (dir, fs, netfs): the VM gets a plain file disk, so
/// clones, the recycle bin, wipes and templates treat it as any other.
enum PoolDisks {
    static let fileBacked: Set<String> = ["dir", "fs", "netfs"]

    /// What stands in the way of the request's pool disks, all at once.
    static func problems(_ r: VMCreateRequest, _ conn: Connection) -> [String] {
        var p: [String] = []
        for (i, d) in r.disks.enumerated() {
            guard let name = d.pool, !name.isEmpty else { continue }
            let pool: StoragePool
            do {
                pool = try conn.storagePool(named: name)
            } catch {
                p.append("disk \(i + 1): no storage pool '\(name)' (list them with 'virsh pool-list --all')")
                continue
            }
            let type = (try? pool.type()) ?? "?"
            if !fileBacked.contains(type) {
                p.append("disk \(i + 1): pool '\(name)' is a \(type) pool; Vigil makes disks in directory-backed pools (dir, fs, netfs): "
                         + "make the volume with your storage's tools and attach it with 'vigil vm disk add'")
            } else if (try? pool.isActive) != true {
                p.append("disk \(i + 1): pool '\(name)' is not active (start it: virsh pool-start \(name))")
            } else if (try? pool.volume(named: VMBuilder.diskName(r, i))) != nil {
                p.append("disk \(i + 1): pool '\(name)' already has a volume \(VMBuilder.diskName(r, i))")
            }
        }
        return p
    }

    /// Creates disk `i` as a qcow2 volume; libvirt writes it (qemu-img).
    static func create(_ r: VMCreateRequest, _ i: Int, _ conn: Connection) throws -> StorageVolume {
        let pool = try conn.storagePool(named: r.disks[i].pool ?? "")
        let xml = """
            <volume><name>\(XMLEscape.text(VMBuilder.diskName(r, i)))</name>\
            <capacity unit='bytes'>\(VMBuilder.diskBytes(r.disks[i].sizeGiB))</capacity>\
            <target><format type='qcow2'/></target></volume>
            """
        return try pool.createVolume(xml: xml)
    }
}
