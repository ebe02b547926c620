import CLibvirt
import Glibc

/// A libvirt storage pool. Owns one reference to its `virStoragePoolPtr`;
/// the connection is kept so it outlives the handle.
public final class StoragePool: @unchecked Sendable {
    let ptr: OpaquePointer
    public let connection: Connection
    public let name: String

    init(owning ptr: OpaquePointer, connection: Connection) {
        self.ptr = ptr
        self.connection = connection
        self.name = virStoragePoolGetName(ptr).map { String(cString: $0) } ?? ""
    }

    deinit { virStoragePoolFree(ptr) }

    public var isActive: Bool {
        get throws(LibvirtError) {
            let v = virStoragePoolIsActive(ptr)
            if v < 0 { throw .capture("check whether storage pool '\(name)' is active") }
            return v == 1
        }
    }

    public func xml() throws(LibvirtError) -> String {
        guard let c = virStoragePoolGetXMLDesc(ptr, 0) else { throw .capture("get XML of storage pool '\(name)'") }
        defer { free(c) }
        return String(cString: c)
    }

    /// The pool's type (`dir`, `fs`, `netfs`, `logical`, `rbd`, …), from its XML.
    public func type() throws(LibvirtError) -> String {
        let x = try xml()
        guard let r = x.firstRange(of: "<pool type='") ?? x.firstRange(of: "<pool type=\"") else { return "" }
        return String(x[r.upperBound...].prefix { $0 != "'" && $0 != "\"" })
    }

    public func start() throws(LibvirtError) {
        if virStoragePoolCreate(ptr, 0) < 0 { throw .capture("start storage pool '\(name)'") }
    }

    /// Stops an active pool (its volumes stay).
    public func destroy() throws(LibvirtError) {
        if virStoragePoolDestroy(ptr) < 0 { throw .capture("stop storage pool '\(name)'") }
    }

    public func undefine() throws(LibvirtError) {
        if virStoragePoolUndefine(ptr) < 0 { throw .capture("undefine storage pool '\(name)'") }
    }

    /// The directory a file-backed pool (dir, fs, netfs) keeps its volumes in.
    public func targetPath() throws(LibvirtError) -> String? {
        XMLText.firstElement("path", in: try xml())
    }

    public func refresh() throws(LibvirtError) {
        if virStoragePoolRefresh(ptr, 0) < 0 { throw .capture("refresh storage pool '\(name)'") }
    }

    public func volume(named volume: String) throws(LibvirtError) -> StorageVolume {
        guard let v = virStorageVolLookupByName(ptr, volume) else { throw .capture("look up volume '\(volume)' in pool '\(name)'") }
        return StorageVolume(owning: v, pool: self)
    }

    /// Creates a volume from `<volume>` XML (libvirt runs qemu-img for qcow2).
    public func createVolume(xml: String) throws(LibvirtError) -> StorageVolume {
        guard let v = virStorageVolCreateXML(ptr, xml, 0) else { throw .capture("create a volume in storage pool '\(name)'") }
        return StorageVolume(owning: v, pool: self)
    }
}

/// A volume of a storage pool.
public final class StorageVolume: @unchecked Sendable {
    let ptr: OpaquePointer
    public let pool: StoragePool
    public let name: String

    init(owning ptr: OpaquePointer, pool: StoragePool) {
        self.ptr = ptr
        self.pool = pool
        self.name = virStorageVolGetName(ptr).map { String(cString: $0) } ?? ""
    }

    deinit { virStorageVolFree(ptr) }

    /// Where the volume is on this host (a file for directory-backed pools).
    public func path() throws(LibvirtError) -> String {
        guard let c = virStorageVolGetPath(ptr) else { throw .capture("get the path of volume '\(name)'") }
        defer { free(c) }
        return String(cString: c)
    }

    public func delete() throws(LibvirtError) {
        if virStorageVolDelete(ptr, 0) < 0 { throw .capture("delete volume '\(name)' of pool '\(pool.name)'") }
    }
}

extension Connection {
    public func storagePool(named name: String) throws(LibvirtError) -> StoragePool {
        guard let p = virStoragePoolLookupByName(try raw("look up storage pool"), name) else {
            throw .capture("look up storage pool '\(name)'")
        }
        return StoragePool(owning: p, connection: self)
    }

    /// Defines a persistent pool (inactive until started).
    public func defineStoragePool(xml: String) throws(LibvirtError) -> StoragePool {
        guard let p = virStoragePoolDefineXML(try raw("define storage pool"), xml, 0) else { throw .capture("define storage pool") }
        return StoragePool(owning: p, connection: self)
    }
}
