import Core
import Foundation
import Synchronization

/// Thrown by `OperationContext.checkCancelled()` once an admin cancelled.
struct OperationCancelled: Error, CustomStringConvertible {
    var description: String { "cancelled by an admin" }
}

/// What a running operation's body reports through: progress, the undo
/// journal, cancellation. Every undo step is persisted before the body
/// makes the thing it undoes.
final class OperationContext: Sendable {
    let id: String
    private let store: StateStore
    private struct State {
        var info: OperationInfo
        var undo: [UndoStep] = []
        var cancelled = false
        var lastPersist: Double = 0
    }
    private let state: Mutex<State>

    init(info: OperationInfo, store: StateStore) {
        id = info.id
        self.store = store
        state = Mutex(State(info: info))
    }

    var info: OperationInfo { state.withLock { $0.info } }
    var undoSteps: [UndoStep] { state.withLock { $0.undo } }
    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func cancel() { state.withLock { $0.cancelled = true } }

    func checkCancelled() throws {
        if isCancelled || Task.isCancelled { throw OperationCancelled() }
    }

    /// Journals `step` (synchronously, to disk) before the caller acts.
    func willDo(_ step: UndoStep) throws {
        let record = state.withLock { s -> OperationRecord in
            s.undo.append(step)
            return OperationRecord(s.info, undo: s.undo)
        }
        try store.saveOperation(record)
    }

    /// Drops a step that no longer needs undoing (a helper process that ended).
    func done(_ step: UndoStep) {
        let record = state.withLock { s -> OperationRecord in
            s.undo.removeAll { $0 == step }
            return OperationRecord(s.info, undo: s.undo)
        }
        try? store.saveOperation(record)
    }

    func willCreate(file path: String) throws { try willDo(.removeFile(path: path)) }

    /// Progress is kept in memory and written to the journal at most once a second.
    func progress(_ fraction: Double, _ detail: String? = nil) {
        let now = Date().timeIntervalSince1970
        let record = state.withLock { s -> OperationRecord? in
            s.info.progress = min(max(fraction, 0), 1)
            if let detail { s.info.detail = detail }
            guard now - s.lastPersist >= 1 else { return nil }
            s.lastPersist = now
            return OperationRecord(s.info, undo: s.undo)
        }
        if let record { try? store.saveOperation(record) }
    }

    func note(_ text: String) { state.withLock { $0.info.notes.append(text) } }

    /// Sets the final state; the journal row loses its undo steps once nothing is left to undo.
    func finish(_ state: OperationState, result: String? = nil, error: String? = nil, keepUndo: Bool = false) {
        let record = self.state.withLock { s -> OperationRecord in
            s.info.state = state
            if state == .succeeded { s.info.progress = 1 }
            s.info.result = result ?? s.info.result
            s.info.error = error
            s.info.finished = Date().timeIntervalSince1970
            if !keepUndo { s.undo = [] }
            return OperationRecord(s.info, undo: s.undo)
        }
        try? store.saveOperation(record)
    }
}
