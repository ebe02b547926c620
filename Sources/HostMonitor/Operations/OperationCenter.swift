import Core
import Foundation
import Logging

/// Runs long operations (clones, template export/import, OVA import, wipes)
/// in the background: each one journalled with its undo steps, reporting
/// progress, cancellable. On start, operations a killed vigild left running
/// are rolled back (`recover`), so no half-made VM or orphaned disk remains.
actor OperationCenter {
    /// Undoes one step (needs libvirt connections: `UndoRunner`, given by the daemon).
    typealias UndoPerformer = @Sendable (UndoStep) async throws -> Void

    private let store: StateStore
    private let events: EventLog
    private let logger: Logger
    private let undo: UndoPerformer
    private var live: [String: (context: OperationContext, task: Task<Void, Never>, cancellable: Bool)] = [:]
    /// Long-polls waiting for an operation's end, each by its own token so a
    /// timed-out one leaves the others waiting.
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]

    init(store: StateStore, events: EventLog, logger: Logger, undo: @escaping UndoPerformer) {
        self.store = store
        self.events = events
        self.logger = logger
        self.undo = undo
    }

    /// Journals a new operation and runs `body` in the background. The body
    /// returns what it made (e.g. the new VM's name); if it throws or is
    /// cancelled, its journalled undo steps run in reverse.
    /// `cancellable: false` for work that cannot be rolled back (a wipe).
    func start(kind: String, target: String, cancellable: Bool = true,
               body: @escaping @Sendable (OperationContext) async throws -> String?) throws -> OperationInfo {
        let info = OperationInfo(id: String(UUID().uuidString.prefix(8)).lowercased(), kind: kind, target: target,
                                 state: .running, progress: 0, started: Date().timeIntervalSince1970)
        try store.saveOperation(OperationRecord(info, undo: []))
        let context = OperationContext(info: info, store: store)
        events.record(kind: "operation", message: "\(kind) \(target) started (operation \(info.id))")
        let task = Task { [weak self] in
            do {
                let result = try await body(context)
                try context.checkCancelled()
                context.finish(.succeeded, result: result)
                await self?.ended(context, message: "\(kind) \(target) done" + (result.map { ": \($0)" } ?? ""))
            } catch {
                let cancelled = error is OperationCancelled || error is CancellationError || context.isCancelled
                let failures = await self?.rollBack(context.undoSteps) ?? []
                let reason = cancelled ? "cancelled by an admin" : "\(error)"
                let rolled = failures.isEmpty ? "rolled back" : "rollback incomplete: \(failures.joined(separator: "; "))"
                context.finish(cancelled ? .cancelled : .failed, error: "\(reason); \(rolled)", keepUndo: !failures.isEmpty)
                await self?.ended(context, message: "\(kind) \(target) \(cancelled ? "cancelled" : "failed"): \(reason); \(rolled)")
            }
        }
        live[info.id] = (context, task, cancellable)
        return info
    }

    private func ended(_ context: OperationContext, message: String) {
        events.record(kind: "operation", message: message)
        live[context.id] = nil
        for waiter in (waiters.removeValue(forKey: context.id) ?? [:]).values { waiter.resume() }
    }

    /// Runs undo steps newest first; returns the ones that failed.
    private func rollBack(_ steps: [UndoStep]) async -> [String] {
        var failures: [String] = []
        for step in steps.reversed() {
            do {
                try await undo(step)
            } catch {
                logger.error("undo failed", metadata: ["undo.step": "\(step.summary)", "error": "\(error)"])
                failures.append("\(step.summary): \(error)")
            }
        }
        return failures
    }

    func info(id: String) throws -> OperationInfo? {
        if let l = live[id] { return l.context.info }
        return try store.operation(id: id)?.info
    }

    func list() throws -> [OperationInfo] {
        try store.operations().map { live[$0.id]?.context.info ?? $0.info }
    }

    /// Asks a running operation to stop; it rolls back what it made.
    func cancel(id: String) throws -> OperationInfo {
        guard let l = live[id] else {
            guard let done = try store.operation(id: id)?.info else {
                throw APIError.notFound("no operation \(id)", hint: "list operations with 'vigil op list'")
            }
            throw APIError.conflict("operation \(id) already ended (\(done.state.rawValue))", hint: "only running operations can be cancelled")
        }
        guard l.cancellable else {
            throw APIError.conflict("a \(l.context.info.kind) cannot be cancelled: what it has overwritten cannot be restored",
                                    hint: "it finishes, also after a vigild restart")
        }
        l.context.cancel()
        l.task.cancel()
        return l.context.info
    }

    /// Waits up to `seconds` for the operation to end, then returns where it stands.
    func wait(id: String, seconds: Double) async throws -> OperationInfo? {
        if live[id] != nil, seconds > 0 {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.waitForEnd(id) }
                group.addTask { try? await Task.sleep(for: .seconds(seconds)) }
                await group.next()
                group.cancelAll()
            }
        }
        return try info(id: id)
    }

    private func waitForEnd(_ id: String) async {
        guard live[id] != nil else { return }
        let token = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { c in
                // Cancelled before this ran: the handler below found nothing to wake.
                if Task.isCancelled { return c.resume() }
                waiters[id, default: [:]][token] = c
            }
        } onCancel: {
            Task { await self.stopWaiting(id, token) }
        }
    }

    /// A timed-out long-poll gives up; the others keep waiting.
    private func stopWaiting(_ id: String, _ token: UUID) {
        waiters[id]?.removeValue(forKey: token)?.resume()
    }

    /// At start: operations journalled as running belong to a vigild that
    /// died; undo what they made.
    func recover() async {
        let stale: [OperationRecord]
        do { stale = try store.runningOperations() } catch {
            logger.error("cannot read the operation journal: \(error)")
            return
        }
        for record in stale where live[record.id] == nil {
            let failures = await rollBack(record.undoSteps)
            var info = record.info
            let finishing = record.undoSteps.contains(where: \.completesOperation)
            info.finished = Date().timeIntervalSince1970
            if finishing && failures.isEmpty {
                info.state = .succeeded
                info.progress = 1
                info.notes.append("vigild stopped during the operation; finished at restart")
            } else {
                info.state = failures.isEmpty ? .rolledBack : .failed
                info.error = "vigild stopped during the operation; " + (failures.isEmpty
                    ? "rolled back at restart" : "\(finishing ? "finishing" : "rollback") incomplete: \(failures.joined(separator: "; "))")
            }
            try? store.saveOperation(OperationRecord(info, undo: failures.isEmpty ? [] : record.undoSteps))
            events.record(kind: "operation", message: "\(info.kind) \(info.target): \(info.error ?? info.notes.last ?? "")")
            logger.notice("operation rolled back at start", metadata: ["operation.id": "\(info.id)", "operation.kind": "\(info.kind)"])
        }
    }
}
