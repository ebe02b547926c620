/// Where a long operation (clone, template export/import, OVA import, wipe)
/// stands. Operations are journalled by vigild: one that was running when
/// vigild stopped is rolled back at the next start (`rolledBack`).
public enum OperationState: String, Codable, Sendable, CaseIterable {
    case running, succeeded, failed, cancelled
    case rolledBack = "rolled_back"

    public var isFinished: Bool { self != .running }
}

/// `GET /v1/operations/{id}` body, and the reply to every request that
/// starts a long operation.
public struct OperationInfo: Codable, Sendable, Equatable {
    public var id: String
    /// e.g. "clone", "template-export", "wipe".
    public var kind: String
    /// What it works on, e.g. "web1 -> web2".
    public var target: String
    public var state: OperationState
    /// 0...1.
    public var progress: Double
    /// The step in progress, e.g. "copying vda (512 MiB of 1 GiB)".
    public var detail: String?
    /// Why it failed, was cancelled or rolled back.
    public var error: String?
    /// What it made, e.g. the new VM's name.
    public var result: String?
    /// Things the admin should know (e.g. a possible IP conflict).
    public var notes: [String]
    /// Seconds since 1970.
    public var started: Double
    public var finished: Double?

    public init(id: String, kind: String, target: String, state: OperationState, progress: Double,
                detail: String? = nil, error: String? = nil, result: String? = nil, notes: [String] = [],
                started: Double, finished: Double? = nil) {
        self.id = id
        self.kind = kind
        self.target = target
        self.state = state
        self.progress = progress
        self.detail = detail
        self.error = error
        self.result = result
        self.notes = notes
        self.started = started
        self.finished = finished
    }
}

/// `GET /v1/operations` body.
public struct OperationList: Codable, Sendable {
    public var operations: [OperationInfo]
    public init(operations: [OperationInfo]) { self.operations = operations }
}
