import Core
import Libvirt

/// New VM disks made as volumes of libvirt storage pools. Only pools whose
/// volumes are files (dir, fs, netfs): the VM gets a plain file disk, so
/// clones, the recycle bin, wipes and templates treat it as any other.
enum PoolDisks {
    static let fileBacked: Set<String> = ["dir", "fs", "netfs"]

    /// What stands in the way of the request's pool disks, all at once.
    static func problems(_ r: VMCreateRequest, _ conn: Connection) -> [String] {
        r.disks.indices.compactMap { i in
            r.disks[i].pool.flatMap { problem(pool: $0, volume: VMBuilder.diskName(r, i), conn) }.map { "disk \(i + 1): \($0)" }
        }
    }

    /// Why volume `volume` cannot be made in pool `name`, or nil.
    static func problem(pool name: String, volume: String, _ conn: Connection) -> String? {
        if let problem = problem(pool: name, conn) { return problem }
        if let pool = try? conn.storagePool(named: name), (try? pool.volume(named: volume)) != nil {
            return "pool '\(name)' already has a volume \(volume)"
        }
        return nil
    }

    /// The pool `name` and the directory its volumes are files in, for
    /// disks that Vigil places there itself (restores, storage moves).
    static func directory(pool name: String, _ conn: Connection, hint: String) throws -> (pool: StoragePool, path: String) {
        if let problem = problem(pool: name, conn) { throw APIError.conflict(problem, hint: hint) }
        let pool = try conn.storagePool(named: name)
        guard let path = try pool.targetPath() else {
            throw APIError.conflict("pool '\(name)' names no directory", hint: hint)
        }
        return (pool, path)
    }

    /// Why pool `name` cannot hold Vigil's file disks, or nil.
    private static func problem(pool name: String, _ conn: Connection) -> String? {
        guard !name.isEmpty, let pool = try? conn.storagePool(named: name) else {
            return "no storage pool '\(name)' (list them with 'virsh pool-list --all')"
        }
        let type = (try? pool.type()) ?? "?"
        if !fileBacked.contains(type) {
            return "pool '\(name)' is a \(type) pool; Vigil makes disks in directory-backed pools (dir, fs, netfs): "
                + "make the volume with your storage's tools and attach it with virsh attach-disk"
        }
        if (try? pool.isActive) != true { return "pool '\(name)' is not active (start it: virsh pool-start \(name))" }
        return nil
    }

    /// Creates disk `i` of a new VM as a qcow2 volume.
    static func create(_ r: VMCreateRequest, _ i: Int, _ conn: Connection) throws -> StorageVolume {
        try create(pool: r.disks[i].pool ?? "", volume: VMBuilder.diskName(r, i), bytes: VMBuilder.diskBytes(r.disks[i].sizeGiB), conn)
    }

    /// A qcow2 volume of `bytes`; libvirt writes it (qemu-img).
    static func create(pool name: String, volume: String, bytes: Int64, _ conn: Connection) throws -> StorageVolume {
        let xml = """
            <volume><name>\(XMLEscape.text(volume))</name><capacity unit='bytes'>\(bytes)</capacity>\
            <target><format type='qcow2'/></target></volume>
            """
        return try conn.storagePool(named: name).createVolume(xml: xml)
    }
}
