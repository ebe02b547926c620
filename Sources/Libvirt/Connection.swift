import CLibvirt
import Glibc
import Synchronization

/// A connection to a libvirt driver (`qemu:///system`, `test:///default`,
/// `qemu+tcp://host/system`, ...). Owns its `virConnectPtr`; libvirt
/// connections are thread-safe, and the pointer itself is guarded so that
/// `reconnect()` can swap it after libvirtd restarts.
public final class Connection: @unchecked Sendable {
    public let uri: String
    public let readOnly: Bool
    private let handle: Mutex<RawHandle?>
    private let closeWatchers = Mutex<[UInt64: @Sendable (CloseReason) -> Void]>([:])
    private let nextWatcher = Atomic<UInt64>(0)
    let eventDispatcher = EventDispatcher()
    private let cachedHostUUID = Mutex<String?>(nil)

    /// Why libvirt closed the connection underneath us.
    public enum CloseReason: Int32, Sendable {
        case error = 0, endOfFile = 1, keepalive = 2, client = 3
    }

    /// Opens a connection. Starts libvirt's event loop first (needed for
    /// events and keepalive).
    public init(uri: String, readOnly: Bool = false) throws(LibvirtError) {
        try EventLoop.start()
        self.uri = uri
        self.readOnly = readOnly
        self.handle = Mutex(RawHandle(try Self.openHandle(uri: uri, readOnly: readOnly)))
        try registerCloseCallback()
    }

    deinit {
        close()
    }

    private static func openHandle(uri: String, readOnly: Bool) throws(LibvirtError) -> OpaquePointer {
        let ptr = readOnly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri)
        guard let ptr else { throw .capture("connect to \(uri)") }
        return ptr
    }

    /// The raw pointer, or a `noConnect` error once closed.
    func raw(_ operation: String) throws(LibvirtError) -> OpaquePointer {
        guard let ptr = handle.withLock({ $0?.ptr }) else {
            throw LibvirtError(code: .noConnect, domain: .none,
                               message: "connection to \(uri) is closed", operation: operation)
        }
        return ptr
    }

    /// Closes the connection now. Domains obtained from it stop working.
    public func close() {
        let old = handle.withLock { h -> RawHandle? in
            defer { h = nil }
            return h
        }
        if let old { virConnectClose(old.ptr) }
    }

    /// Replaces a dead connection with a fresh one to the same URI (e.g. after
    /// libvirtd restarted). Event subscriptions must be made again.
    public func reconnect() throws(LibvirtError) {
        let fresh = try Self.openHandle(uri: uri, readOnly: readOnly)
        let old = handle.withLock { h -> RawHandle? in
            defer { h = RawHandle(fresh) }
            return h
        }
        if let old { virConnectClose(old.ptr) }
        cachedHostUUID.withLock { $0 = nil }
        try registerCloseCallback()
    }

    /// Whether libvirt still considers the connection usable.
    public var isAlive: Bool {
        guard let ptr = handle.withLock({ $0?.ptr }) else { return false }
        return virConnectIsAlive(ptr) == 1
    }

    /// Enables libvirt keepalive: the connection is closed (and close
    /// watchers told) after `count` unanswered probes `interval` s apart.
    public func setKeepAlive(interval: Int32, count: UInt32) throws(LibvirtError) {
        let ptr = try raw("set keepalive")
        guard virConnectSetKeepAlive(ptr, interval, count) >= 0 else { throw .capture("set keepalive on \(uri)") }
    }

    /// Registers `handler` to run (on libvirt's event thread) when the
    /// connection closes for any reason other than `close()`.
    @discardableResult
    public func onClose(_ handler: @escaping @Sendable (CloseReason) -> Void) -> UInt64 {
        let id = nextWatcher.wrappingAdd(1, ordering: .relaxed).newValue
        closeWatchers.withLock { $0[id] = handler }
        return id
    }

    public func removeCloseHandler(_ id: UInt64) {
        _ = closeWatchers.withLock { $0.removeValue(forKey: id) }
    }

    fileprivate func connectionClosed(_ reason: CloseReason) {
        let watchers = closeWatchers.withLock { Array($0.values) }
        for watcher in watchers { watcher(reason) }
    }

    private func registerCloseCallback() throws(LibvirtError) {
        let ptr = try raw("register close callback")
        // The box holds the connection weakly so libvirt does not keep it
        // alive; passRetained is balanced by the free callback.
        let box = Unmanaged.passRetained(WeakConnection(self)).toOpaque()
        let rc = virConnectRegisterCloseCallback(ptr, { _, reason, opaque in
            guard let opaque else { return }
            let weak = Unmanaged<WeakConnection>.fromOpaque(opaque).takeUnretainedValue()
            weak.connection?.connectionClosed(CloseReason(rawValue: reason) ?? .error)
        }, box, { opaque in
            guard let opaque else { return }
            Unmanaged<WeakConnection>.fromOpaque(opaque).release()
        })
        if rc < 0 {
            Unmanaged<WeakConnection>.fromOpaque(box).release()
            // Drivers without close callbacks (test://) are fine.
            virResetLastError()
        }
    }

    // MARK: host facts

    public var hostname: String {
        get throws(LibvirtError) {
            let ptr = try raw("get hostname")
            guard let c = virConnectGetHostname(ptr) else { throw .capture("get hostname of \(uri)") }
            defer { free(c) }
            return String(cString: c)
        }
    }

    /// libvirt library version as (major, minor, micro).
    public var libraryVersion: (major: Int, minor: Int, micro: Int) {
        get throws(LibvirtError) {
            let ptr = try raw("get library version")
            var v: UInt = 0
            guard virConnectGetLibVersion(ptr, &v) == 0 else { throw .capture("get libvirt version") }
            return (Int(v / 1_000_000), Int(v / 1000 % 1000), Int(v % 1000))
        }
    }

    /// The hypervisor's version (QEMU's, for qemu://) as (major, minor, micro).
    public var hypervisorVersion: (major: Int, minor: Int, micro: Int) {
        get throws(LibvirtError) {
            let ptr = try raw("get hypervisor version")
            var v: UInt = 0
            guard virConnectGetVersion(ptr, &v) == 0 else { throw .capture("get hypervisor version") }
            return (Int(v / 1_000_000), Int(v / 1000 % 1000), Int(v % 1000))
        }
    }

    public var driverType: String {
        get throws(LibvirtError) {
            let ptr = try raw("get driver type")
            guard let c = virConnectGetType(ptr) else { throw .capture("get driver type") }
            return String(cString: c)
        }
    }

    public var nodeInfo: NodeInfo {
        get throws(LibvirtError) {
            let ptr = try raw("get node info")
            var info = virNodeInfo()
            guard virNodeGetInfo(ptr, &info) == 0 else { throw .capture("get node info of \(uri)") }
            return NodeInfo(info)
        }
    }

    /// Memory a new guest can have on the host, in bytes: free plus the
    /// page cache and buffers the kernel gives back on demand (what
    /// `MemAvailable` approximates). `freeMemory` alone counts the cache as
    /// used, so a host that has read a lot of disk looks full.
    public var availableMemory: UInt64 {
        get throws(LibvirtError) {
            let kib = try memoryStatsKiB()
            return (["free", "buffers", "cached"].compactMap { kib[$0] }.reduce(0, +)) * 1024
        }
    }

    /// The host's memory in bytes as its kernel counts it (`MemTotal`).
    /// `nodeInfo` sums the NUMA nodes' memory instead, which some virtual
    /// machines report smaller than the whole.
    public var totalMemory: UInt64 {
        get throws(LibvirtError) { (try memoryStatsKiB()["total"] ?? 0) * 1024 }
    }

    /// virNodeGetMemoryStats for all cells, by field name, in KiB.
    private func memoryStatsKiB() throws(LibvirtError) -> [String: UInt64] {
        let ptr = try raw("get memory statistics")
        var count: Int32 = 0
        let allCells = VIR_NODE_MEMORY_STATS_ALL_CELLS.rawValue
        guard virNodeGetMemoryStats(ptr, allCells, nil, &count, 0) == 0, count > 0 else {
            throw .capture("get memory statistics of \(uri)")
        }
        var stats = [virNodeMemoryStats](repeating: virNodeMemoryStats(), count: Int(count))
        guard virNodeGetMemoryStats(ptr, allCells, &stats, &count, 0) == 0 else {
            throw .capture("get memory statistics of \(uri)")
        }
        var kib: [String: UInt64] = [:]
        for s in stats.prefix(Int(count)) {
            let field = withUnsafeBytes(of: s.field) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            kib[field] = UInt64(s.value)
        }
        return kib
    }

    /// Free memory of the host in bytes (page cache counted as used; see `availableMemory`).
    public var freeMemory: UInt64 {
        get throws(LibvirtError) {
            let ptr = try raw("get free memory")
            let value = virNodeGetFreeMemory(ptr)
            if value == 0 {
                let err = LibvirtError.capture("get free memory of \(uri)")
                if err.code != .ok && err.message != "libvirt reported failure without an error" { throw err }
            }
            return value
        }
    }

    /// The host's UUID (libvirtd's `host_uuid`). Read from the capabilities
    /// XML once per connection: building that XML re-probes the host and
    /// can take seconds.
    public var hostUUID: String {
        get throws(LibvirtError) {
            if let cached = cachedHostUUID.withLock({ $0 }) { return cached }
            let uuid = XMLText.firstElement("uuid", in: try capabilities) ?? ""
            cachedHostUUID.withLock { $0 = uuid }
            return uuid
        }
    }

    public var capabilities: String {
        get throws(LibvirtError) {
            let ptr = try raw("get capabilities")
            guard let c = virConnectGetCapabilities(ptr) else { throw .capture("get capabilities of \(uri)") }
            defer { free(c) }
            return String(cString: c)
        }
    }
}

/// A connection pointer that may cross threads: libvirt connections are
/// thread-safe, and the Mutex around it orders swaps.
private struct RawHandle: @unchecked Sendable {
    let ptr: OpaquePointer
    init(_ ptr: OpaquePointer) { self.ptr = ptr }
}

private final class WeakConnection {
    weak var connection: Connection?
    init(_ connection: Connection) { self.connection = connection }
}

/// Host CPU and memory facts from `virNodeGetInfo`.
public struct NodeInfo: Sendable, Equatable {
    public let model: String
    public let memoryKiB: UInt64
    public let cpus: Int
    public let mhz: Int

    init(_ info: virNodeInfo) {
        var copy = info
        model = withUnsafeBytes(of: &copy.model) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        memoryKiB = UInt64(info.memory)
        cpus = Int(info.cpus)
        mhz = Int(info.mhz)
    }
}
