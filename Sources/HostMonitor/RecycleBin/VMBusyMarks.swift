import Synchronization

/// VMs (by UUID) a delete, restore, purge or destroy is working on: one at
/// a time each. Shared by the recycle bin and permanent deletion.
final class VMBusyMarks: Sendable {
    private let busy = Mutex<Set<String>>([])
    /// What the marks guard, for the refusal.
    private let work: String

    init(work: String = "delete, restore, purge or destroy") { self.work = work }

    /// Marks a VM as taken (a wipe keeps the mark for its whole background operation).
    func claim(_ uuid: String, _ name: String) throws {
        guard busy.withLock({ $0.insert(uuid).inserted }) else {
            throw APIError.conflict("another \(work) of \(name) is under way", hint: "wait for it to finish")
        }
    }

    func release(_ uuid: String) { busy.withLock { _ = $0.remove(uuid) } }

    func isBusy(_ uuid: String) -> Bool { busy.withLock { $0.contains(uuid) } }

    /// Runs `body` with `uuid` marked busy; refuses a second operation on the same VM.
    func exclusively<T>(_ uuid: String, _ name: String, _ body: () async throws -> T) async throws -> T {
        try claim(uuid, name)
        defer { release(uuid) }
        return try await body()
    }
}
