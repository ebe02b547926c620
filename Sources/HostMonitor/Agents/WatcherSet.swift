/// The running agent watcher tasks, by domain UUID: its Vigil channel's
/// session and, where it has one, the qemu-guest-agent pinger.
actor WatcherSet {
    private var tasks: [String: [String: (name: String, task: Task<Void, Never>)]] = [:]

    /// Starts the watcher `key` (the channel's socket path, or a pinger's
    /// name) for a VM unless it runs already.
    func ensure(uuid: String, name: String, socketPath key: String, _ body: @escaping @Sendable () async -> Void) {
        if tasks[uuid]?[key] != nil { return }
        // A new socket path for the same channel replaces the old session.
        if !key.hasPrefix("org.qemu.") {
            for (other, w) in tasks[uuid] ?? [:] where !other.hasPrefix("org.qemu.") {
                w.task.cancel()
                tasks[uuid]?[other] = nil
            }
        }
        tasks[uuid, default: [:]][key] = (name, Task { await body() })
    }

    func stop(_ uuid: String) {
        for w in (tasks.removeValue(forKey: uuid) ?? [:]).values { w.task.cancel() }
    }

    func stopAll(except keep: Set<String> = []) {
        for uuid in tasks.keys where !keep.contains(uuid) { stop(uuid) }
    }
}
