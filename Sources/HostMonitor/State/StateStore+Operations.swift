import Core
import Foundation
import GRDB

/// A long operation as journalled in SQLite: its public view plus the undo
/// steps recorded so far (cleared when it succeeds).
struct OperationRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "operation"
    var id: String
    var kind: String
    var target: String
    var state: String
    var progress: Double
    var detail: String?
    var error: String?
    var result: String?
    /// JSON arrays.
    var notes: String
    var undo: String
    var started: Double
    var finished: Double?

    init(_ info: OperationInfo, undo: [UndoStep]) {
        id = info.id
        kind = info.kind
        target = info.target
        state = info.state.rawValue
        progress = info.progress
        detail = info.detail
        error = info.error
        result = info.result
        notes = Self.json(info.notes)
        self.undo = Self.json(undo)
        started = info.started
        finished = info.finished
    }

    var info: OperationInfo {
        OperationInfo(id: id, kind: kind, target: target, state: OperationState(rawValue: state) ?? .failed,
                      progress: progress, detail: detail, error: error, result: result,
                      notes: (try? JSONDecoder().decode([String].self, from: Data(notes.utf8))) ?? [],
                      started: started, finished: finished)
    }

    var undoSteps: [UndoStep] { (try? JSONDecoder().decode([UndoStep].self, from: Data(undo.utf8))) ?? [] }

    private static func json<T: Encodable>(_ value: T) -> String {
        (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "[]"
    }
}

extension StateStore {
    static func registerOperationMigrations(_ m: inout DatabaseMigrator) {
        m.registerMigration("v3-operations") { db in
            try db.create(table: "operation") { t in
                t.primaryKey("id", .text)
                t.column("kind", .text).notNull()
                t.column("target", .text).notNull()
                t.column("state", .text).notNull().indexed()
                t.column("progress", .double).notNull()
                t.column("detail", .text)
                t.column("error", .text)
                t.column("result", .text)
                t.column("notes", .text).notNull()
                t.column("undo", .text).notNull()
                t.column("started", .double).notNull()
                t.column("finished", .double)
            }
        }
    }

    func saveOperation(_ record: OperationRecord) throws {
        try db.write { try record.save($0) }
    }

    func operation(id: String) throws -> OperationRecord? {
        try db.read { try OperationRecord.fetchOne($0, key: id) }
    }

    /// Newest first.
    func operations(limit: Int = 200) throws -> [OperationRecord] {
        try db.read { try OperationRecord.order(Column("started").desc).limit(limit).fetchAll($0) }
    }

    func runningOperations() throws -> [OperationRecord] {
        try db.read { try OperationRecord.filter(Column("state") == OperationState.running.rawValue).fetchAll($0) }
    }
}
