import Core

/// Requests vigild sends to agents and the replies it waits for, matched by
/// VM and request id. A reply nobody asked for (or from another VM's
/// session) matches nothing and is dropped: a guest cannot answer for
/// another guest.
actor AgentRequests {
    struct Timeout: Error, CustomStringConvertible {
        let what: String
        var description: String { "the agent did not answer \(what) in time" }
    }

    struct NotConnected: Error, CustomStringConvertible {
        var description: String { "the VM's agent is not connected" }
    }

    private var pending: [String: [UInt64: CheckedContinuation<Reply, any Error>]] = [:]
    private var nextID: UInt64 = 1

    /// A reply with the wall-clock time its bytes arrived (for time probes).
    struct Reply: Sendable {
        let message: AgentMessage
        let receivedAtNs: Int64
    }

    /// Sends the message `make(id)` through `send` and waits for its reply.
    /// `id` reuses a request id (an upgrade's chunks all carry their offer's id).
    func request(vm uuid: String, what: String, id fixedID: UInt64? = nil, timeout: Duration = .seconds(3),
                 send: @escaping @Sendable (AgentMessage) async -> Bool,
                 _ make: (UInt64) -> AgentMessage) async throws -> Reply {
        let id = fixedID ?? nextID
        if fixedID == nil { nextID &+= 1 }
        let message = make(id)
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.fail(uuid, id, Timeout(what: what))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            pending[uuid, default: [:]][id] = continuation
            Task {
                if await !send(message) { self.fail(uuid, id, NotConnected()) }
            }
        }
    }

    /// Whether vigild waits for any reply from this VM's agent.
    func hasPending(vm uuid: String) -> Bool { !(pending[uuid]?.isEmpty ?? true) }

    /// Delivers a reply; false when nothing was waiting for it.
    @discardableResult
    func deliver(vm uuid: String, id: UInt64, _ reply: Reply) -> Bool {
        guard let continuation = pending[uuid]?.removeValue(forKey: id) else { return false }
        continuation.resume(returning: reply)
        return true
    }

    /// Fails every request to a VM whose session ended.
    func cancelAll(vm uuid: String) {
        for (_, c) in pending.removeValue(forKey: uuid) ?? [:] { c.resume(throwing: NotConnected()) }
    }

    private func fail(_ uuid: String, _ id: UInt64, _ error: any Error) {
        pending[uuid]?.removeValue(forKey: id)?.resume(throwing: error)
    }
}
