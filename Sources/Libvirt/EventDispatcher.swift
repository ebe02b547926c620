import CLibvirt
import Synchronization

/// Registers libvirt's domain-event callbacks once per connection and fans
/// events out to every subscriber. libvirt refuses to register the same
/// callback function twice on one connection, so subscribers share these.
final class EventDispatcher: Sendable {
    private struct State {
        var subscribers: [UInt64: AsyncStream<DomainEvent>.Continuation] = [:]
        var nextID: UInt64 = 0
        var callbackIDs: [Int32] = []
        var closeHandler: UInt64?
    }

    private let state = Mutex(State())
    private let counter = CallbackCounter()

    var liveCallbacks: Int { counter.value.load(ordering: .acquiring) }

    func add(_ continuation: AsyncStream<DomainEvent>.Continuation, on connection: Connection) throws(LibvirtError) -> UInt64 {
        let ptr = try connection.raw("subscribe to domain events")
        let result: Result<UInt64, LibvirtError> = state.withLock { s in
            if s.callbackIDs.isEmpty {
                do throws(LibvirtError) {
                    s.callbackIDs = try register(ptr, connection: connection)
                } catch {
                    return .failure(error)
                }
                s.closeHandler = connection.onClose { [weak self] _ in self?.finishAll() }
            }
            s.nextID += 1
            s.subscribers[s.nextID] = continuation
            return .success(s.nextID)
        }
        return try result.get()
    }

    func remove(_ id: UInt64, on connection: Connection) {
        let (removed, toDeregister, handler) = state.withLock { s -> (AsyncStream<DomainEvent>.Continuation?, [Int32], UInt64?) in
            let removed = s.subscribers.removeValue(forKey: id)
            guard s.subscribers.isEmpty, !s.callbackIDs.isEmpty else { return (removed, [], nil) }
            defer { s.callbackIDs = []; s.closeHandler = nil }
            return (removed, s.callbackIDs, s.closeHandler)
        }
        removed?.finish()
        if let handler { connection.removeCloseHandler(handler) }
        deregister(toDeregister, on: connection)
    }

    /// The connection closed: end every stream. libvirt frees the callbacks
    /// when the dead connection is closed.
    private func finishAll() {
        let subscribers = state.withLock { s in
            defer { s.subscribers = [:]; s.callbackIDs = []; s.closeHandler = nil }
            return Array(s.subscribers.values)
        }
        for sub in subscribers { sub.finish() }
    }

    func dispatch(_ event: DomainEvent) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for sub in subscribers { sub.yield(event) }
    }

    private func deregister(_ ids: [Int32], on connection: Connection) {
        guard !ids.isEmpty, let ptr = try? connection.raw("deregister events") else { return }
        for id in ids where virConnectDomainEventDeregisterAny(ptr, id) < 0 {
            virResetLastError()
        }
    }

    private func register(_ c: OpaquePointer, connection: Connection) throws(LibvirtError) -> [Int32] {
        var ids: [Int32] = []
        // Each registration gets its own retained box; libvirt releases it
        // through `release` once the callback is deregistered.
        func add(_ what: String, _ body: (UnsafeMutableRawPointer) -> Int32) throws(LibvirtError) {
            let box = Unmanaged.passRetained(CallbackBox(self, counter: counter)).toOpaque()
            let id = body(box)
            if id < 0 {
                let error = LibvirtError.capture("register \(what) event callback")
                Unmanaged<CallbackBox>.fromOpaque(box).release()
                deregister(ids, on: connection)
                throw error
            }
            ids.append(id)
        }
        let free = CallbackBox.release
        try add("lifecycle") { vigil_register_lifecycle(c, { _, dom, event, detail, opaque in
            guard let kind = LifecycleEvent.Kind(rawValue: event) else { return 0 }
            CallbackBox.emit(opaque, dom, .lifecycle(LifecycleEvent(kind: kind, detail: detail)))
            return 0
        }, $0, free) }
        try add("reboot") { vigil_register_generic(c, Int32(VIR_DOMAIN_EVENT_ID_REBOOT.rawValue), { _, dom, opaque in
            CallbackBox.emit(opaque, dom, .reboot)
        }, $0, free) }
        try add("watchdog") { vigil_register_watchdog(c, { _, dom, action, opaque in
            CallbackBox.emit(opaque, dom, .watchdog(WatchdogAction(rawValue: action) ?? .none))
        }, $0, free) }
        try add("agent lifecycle") { vigil_register_agent_lifecycle(c, { _, dom, state, reason, opaque in
            let connected = state == Int32(VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED.rawValue)
            CallbackBox.emit(opaque, dom, .agentLifecycle(connected: connected, reason: reason))
        }, $0, free) }
        try add("job completed") { vigil_register_job_completed(c, { _, dom, params, n, opaque in
            CallbackBox.emit(opaque, dom, .jobCompleted(TypedValue.dictionary(params, count: n)))
        }, $0, free) }
        try add("migration iteration") { vigil_register_migration_iteration(c, { _, dom, iteration, opaque in
            CallbackBox.emit(opaque, dom, .migrationIteration(iteration))
        }, $0, free) }
        try add("block job") { vigil_register_block_job(c, { _, dom, disk, type, status, opaque in
            let path = disk.map { String(cString: $0) } ?? ""
            CallbackBox.emit(opaque, dom, .blockJob(disk: path, type: type, status: BlockJobStatus(rawValue: status) ?? .failed))
        }, $0, free) }
        try add("device removed") { vigil_register_device_removed(c, { _, dom, alias, opaque in
            CallbackBox.emit(opaque, dom, .deviceRemoved(alias: alias.map { String(cString: $0) } ?? ""))
        }, $0, free) }
        return ids
    }
}

/// Counts callback boxes libvirt still holds (for leak checks).
final class CallbackCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// What libvirt holds as a callback's opaque pointer.
private final class CallbackBox: Sendable {
    weak let dispatcher: EventDispatcher?
    let counter: CallbackCounter

    init(_ dispatcher: EventDispatcher, counter: CallbackCounter) {
        self.dispatcher = dispatcher
        self.counter = counter
        counter.value.add(1, ordering: .releasing)
    }

    deinit { counter.value.subtract(1, ordering: .releasing) }

    /// Runs on libvirt's event thread; must not throw or block.
    static func emit(_ opaque: UnsafeMutableRawPointer?, _ dom: OpaquePointer?, _ kind: DomainEvent.Kind) {
        guard let opaque, let dom else { return }
        // Sound: libvirt passes back the pointer we registered, and keeps the
        // retain we gave it until `release` runs.
        let box = Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue()
        guard let dispatcher = box.dispatcher else { return }
        let name = virDomainGetName(dom).map { String(cString: $0) } ?? ""
        var buf = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        let uuid = virDomainGetUUIDString(dom, &buf) == 0
            ? String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        dispatcher.dispatch(DomainEvent(domainName: name, domainUUID: uuid, kind: kind))
    }

    /// libvirt's free callback: balances `passRetained` at registration.
    static let release: virFreeCallback = { opaque in
        guard let opaque else { return }
        Unmanaged<CallbackBox>.fromOpaque(opaque).release()
    }
}
