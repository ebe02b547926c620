/// One clock sync per VM at a time. Syncs start from several places (the
/// agent's hello, a resume, the periodic timer, an admin): two that measured
/// the same offset before either corrected it would both correct it, and
/// leave the guest off by as much the other way. The later one runs after
/// the earlier and measures what it left.
actor ClockSyncGate {
    private var tails: [String: (id: Int, done: Task<Void, Never>)] = [:]
    private var nextID = 0

    func run<T: Sendable>(_ uuid: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tails[uuid]?.done
        let work = Task { () async throws -> T in
            await previous?.value
            return try await body()
        }
        let id = nextID
        nextID += 1
        tails[uuid] = (id, Task { _ = try? await work.value })
        defer { if tails[uuid]?.id == id { tails[uuid] = nil } }
        return try await work.value
    }
}
