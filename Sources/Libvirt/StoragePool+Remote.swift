import CLibvirt
import Glibc

/// Storage on another host through its libvirtd: the pool that holds a
/// directory, a transient pool for a directory no pool holds, free space,
/// and uploading a local file into a volume (libvirt's stream API), so
/// vigild can place disks on a host whose filesystems it cannot see.
extension Connection {
    /// The active pool whose target is `path`, nil when none is.
    public func storagePool(targetPath path: String) -> StoragePool? {
        guard let conn = try? raw("look up storage pool"), let p = virStoragePoolLookupByTargetPath(conn, path) else {
            virResetLastError()
            return nil
        }
        return StoragePool(owning: p, connection: self)
    }

    /// A directory pool that exists until destroyed (or libvirtd restarts);
    /// destroying it leaves the files.
    public func createTransientDirectoryPool(name: String, path: String) throws(LibvirtError) -> StoragePool {
        let xml = "<pool type='dir'><name>\(XMLText.escaped(name))</name><target><path>\(XMLText.escaped(path))</path></target></pool>"
        guard let p = virStoragePoolCreateXML(try raw("create storage pool"), xml, 0) else {
            throw .capture("open directory \(path) on \(uri) as a storage pool:")
        }
        return StoragePool(owning: p, connection: self)
    }
}

extension StoragePool {
    /// Bytes still free in the pool.
    public func availableBytes() throws(LibvirtError) -> UInt64 {
        var info = virStoragePoolInfo()
        if virStoragePoolGetInfo(ptr, &info) < 0 { throw .capture("read the free space of storage pool '\(name)'") }
        return info.available
    }
}

extension StorageVolume {
    /// Writes the local file `path` into the volume, from its start, in 1 MiB pieces.
    public func upload(from path: String) throws(LibvirtError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw LibvirtError(code: .systemError, domain: .none, message: "cannot read \(path): \(String(cString: strerror(errno)))",
                               operation: "upload to volume '\(name)'")
        }
        defer { close(fd) }
        guard let conn = try? pool.connection.raw("upload"), let stream = virStreamNew(conn, 0) else {
            throw .capture("open a stream to volume '\(name)'")
        }
        defer { virStreamFree(stream) }
        if virStorageVolUpload(ptr, stream, 0, 0, 0) < 0 { throw .capture("upload to volume '\(name)'") }
        let piece = 1 << 20
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: piece)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer, piece)
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                virStreamAbort(stream)
                throw LibvirtError(code: .systemError, domain: .none, message: "cannot read \(path): \(String(cString: strerror(errno)))",
                                   operation: "upload to volume '\(name)'")
            }
            if n == 0 { break }
            var sent = 0
            while sent < n {
                let w = virStreamSend(stream, buffer + sent, n - sent)
                if w < 0 {
                    virStreamAbort(stream)
                    throw .capture("send data to volume '\(name)'")
                }
                sent += Int(w)
            }
        }
        if virStreamFinish(stream) < 0 { throw .capture("finish the upload to volume '\(name)'") }
    }
}
