import Core
import Foundation
import GRDB

/// One VM in the recycle bin, as kept in vigild's database: its definition,
/// where its disks went, and how far the operation on it got.
struct RecycleRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "recycleBin"

    /// How far an operation got; every step is recorded before it is taken,
    /// so a vigild killed half-way finishes or undoes it at start.
    enum Phase: String, Codable, Sendable {
        /// Recorded; the domain may still be defined (undefine not yet done).
        case deleting
        /// Undefined, disks (if any) in the bin.
        case binned
        /// Disks on their way back; the domain may not be defined yet.
        case restoring
        /// Disk files being deleted (zero-filled first when `wipe`).
        case purging
    }

    var id: Int64?
    var vmUUID: String
    var vmName: String
    /// The persistent definition (inactive, with secure fields).
    var xml: String
    var autostart: Bool
    var deletedAt: Double
    var phase: Phase
    var disks: [RecycledDisk]
    var disksLeft: [String]
    var wipe: Bool = false

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    func entry(retention: Double?) -> RecycleEntry {
        RecycleEntry(id: id ?? 0, vmName: vmName, vmUUID: vmUUID, deletedAt: deletedAt,
                     expiresAt: retention.map { deletedAt + $0 }, disks: disks, disksLeft: disksLeft)
    }

    /// Registered in `StateStore.migrator`.
    static func migrate(_ db: Database) throws {
        try db.create(table: databaseTableName) { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("vmUUID", .text).notNull()
            t.column("vmName", .text).notNull().indexed()
            t.column("xml", .text).notNull()
            t.column("autostart", .boolean).notNull()
            t.column("deletedAt", .double).notNull()
            t.column("phase", .text).notNull()
            t.column("disks", .text).notNull()
            t.column("disksLeft", .text).notNull()
            t.column("wipe", .boolean).notNull().defaults(to: false)
        }
    }
}

extension StateStore {
    func addRecycled(_ record: RecycleRecord) throws -> RecycleRecord {
        var r = record
        try db.write { try r.insert($0) }
        return r
    }

    func saveRecycled(_ record: RecycleRecord) throws {
        try db.write { try record.update($0) }
    }

    func removeRecycled(id: Int64) throws {
        _ = try db.write { try RecycleRecord.deleteOne($0, key: id) }
    }

    func recycled() throws -> [RecycleRecord] {
        try db.read { try RecycleRecord.order(Column("id")).fetchAll($0) }
    }

    func recycled(id: Int64) throws -> RecycleRecord? {
        try db.read { try RecycleRecord.fetchOne($0, key: id) }
    }
}
