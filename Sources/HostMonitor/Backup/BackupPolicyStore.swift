import Core
import Foundation
import GRDB

/// Backup policies in vigild's database (each as JSON, its schedules as the admin wrote them).
struct BackupPolicyRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "backupPolicy"
    var name: String
    var definition: String

    /// Registered in `StateStore.migrator`.
    static func migrate(_ db: Database) throws {
        try db.create(table: databaseTableName) { t in
            t.primaryKey("name", .text)
            t.column("definition", .text).notNull()
        }
    }
}

extension StateStore {
    func saveBackupPolicy(_ p: BackupPolicy) throws {
        let json = String(decoding: try JSONEncoder().encode(p), as: UTF8.self)
        try db.write { try BackupPolicyRow(name: p.name, definition: json).save($0) }
    }

    func backupPolicies() throws -> [BackupPolicy] {
        try db.read { try BackupPolicyRow.order(Column("name")).fetchAll($0) }.compactMap {
            try? JSONDecoder().decode(BackupPolicy.self, from: Data($0.definition.utf8))
        }
    }

    func deleteBackupPolicy(_ name: String) throws -> Bool {
        try db.write { try BackupPolicyRow.deleteOne($0, key: name) }
    }
}
