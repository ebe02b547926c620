import Core
import Foundation
import GRDB

/// The migration history in vigild's database: one row per migration this
/// host started, written when it starts (`running`) and when it ends.
extension MigrationRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "migration"

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// Registered in `StateStore.migrator`.
    static func migrate(_ db: Database) throws {
        try db.create(table: databaseTableName) { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("vmUUID", .text).notNull().indexed()
            t.column("vmName", .text).notNull()
            t.column("started", .double).notNull()
            t.column("ended", .double)
            t.column("source", .text).notNull()
            t.column("destination", .text).notNull()
            t.column("kind", .text).notNull()
            t.column("options", .text).notNull()
            t.column("result", .text).notNull()
            t.column("error", .text)
            t.column("totalMs", .double)
            t.column("downtimeMs", .double)
            t.column("dataBytes", .integer)
            t.column("iterations", .integer)
            t.column("dirtyRatePagesPerSecond", .integer)
            t.column("compressedBytes", .integer)
            t.column("pausedByTimeout", .boolean).notNull()
            t.column("operation", .text)
        }
    }
}

extension StateStore {
    func addMigration(_ record: MigrationRecord) throws -> MigrationRecord {
        var r = record
        try db.write { try r.insert($0) }
        return r
    }

    func saveMigration(_ record: MigrationRecord) throws {
        try db.write { try record.update($0) }
    }

    /// Newest first; one VM's (by UUID or name) or the host's.
    func migrations(vm: String? = nil, limit: Int = 200) throws -> [MigrationRecord] {
        try db.read { db in
            var q = MigrationRecord.order(Column("id").desc)
            if let vm { q = q.filter(Column("vmUUID") == vm || Column("vmName") == vm) }
            return try q.limit(limit).fetchAll(db)
        }
    }
}
