import Core
import Foundation
import Libvirt

/// Disk images on another host, made and removed through its libvirtd
/// (vigild cannot see that host's filesystems): a directory is reached
/// through the pool that holds it, or a transient directory pool made for
/// the moment (destroying it leaves the files).
enum RemoteStorage {
    /// The pool for `directory` (or named `pool`) on `conn`, and whether it was made here (destroy it after).
    static func open(_ conn: Connection, directory: String?, pool: String?) throws -> (pool: StoragePool, transient: Bool, path: String) {
        if let pool {
            let p = try conn.storagePool(named: pool)
            guard try p.isActive, let path = try p.targetPath() else {
                throw APIError.conflict("pool '\(pool)' on \(conn.uri) is not an active directory pool", hint: "start it, or give --storage-dir")
            }
            return (p, false, path)
        }
        let dir = directory ?? "/"
        if let p = conn.storagePool(targetPath: dir), (try? p.isActive) == true { return (p, false, dir) }
        do {
            return (try conn.createTransientDirectoryPool(name: "vigil-\(UUID().uuidString.prefix(8).lowercased())", path: dir), true, dir)
        } catch {
            throw APIError.conflict("\(conn.uri) cannot use directory \(dir): \(error)", hint: "create it there, or give a storage pool")
        }
    }

    /// Runs `body` with the pool, destroying a transient one afterwards.
    static func with<T>(_ conn: Connection, directory: String?, pool: String?, _ body: (StoragePool, String) throws -> T) throws -> T {
        let (p, transient, path) = try open(conn, directory: directory, pool: pool)
        defer { if transient { try? p.destroy() } }
        return try body(p, path)
    }

    /// Removes the image at `path` on `conn`'s host (nothing when it is not there).
    static func remove(_ conn: Connection, path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try with(conn, directory: dir, pool: nil) { pool, _ in
            try? pool.refresh()
            guard let volume = try? pool.volume(named: URL(fileURLWithPath: path).lastPathComponent) else { return }
            try volume.delete()
        }
    }
}
