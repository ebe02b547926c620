/// The running agent watcher tasks, by domain UUID.
actor WatcherSet {
    private var tasks: [String: (name: String, path: String, task: Task<Void, Never>)] = [:]

    func ensure(uuid: String, name: String, socketPath: String, _ body: @escaping @Sendable () async -> Void) {
        if let existing = tasks[uuid], existing.path == socketPath { return }
        tasks[uuid]?.task.cancel()
        tasks[uuid] = (name, socketPath, Task { await body() })
    }

    func stop(_ uuid: String) {
        tasks.removeValue(forKey: uuid)?.task.cancel()
    }

    func stopAll(except keep: Set<String> = []) {
        for uuid in tasks.keys where !keep.contains(uuid) { stop(uuid) }
    }
}
