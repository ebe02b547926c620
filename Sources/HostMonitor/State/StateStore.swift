import Foundation
import GRDB

/// vigild's embedded state (SQLite through GRDB) under the state directory.
/// Schema changes go through `migrator`, so an older database is upgraded
/// in place on start.
public final class StateStore: Sendable {
    let db: DatabaseQueue

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(5)
        db = try DatabaseQueue(path: directory + "/vigild.sqlite", configuration: config)
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-events-agents") { db in
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .double).notNull().indexed()
                t.column("vmUUID", .text).indexed()
                t.column("vmName", .text)
                t.column("kind", .text).notNull()
                t.column("message", .text).notNull()
            }
            try db.create(table: "agent") { t in
                t.primaryKey("vmUUID", .text)
                t.column("agentVersion", .text)
                t.column("guestOS", .text)
                t.column("kernel", .text)
                t.column("bootID", .text)
                t.column("lastHello", .double)
            }
        }
        return m
    }

    /// Names of the migrations applied so far (for tests and `host info`).
    public func appliedMigrations() throws -> [String] {
        try db.read { try Self.migrator.appliedMigrations($0) }
    }

    public func record(_ event: EventRecord) throws {
        var e = event
        try db.write { try e.insert($0) }
    }

    public func events(vmUUID: String? = nil, since: Date? = nil, limit: Int = 1000) throws -> [EventRecord] {
        try db.read { db in
            var q = EventRecord.order(Column("id").desc)
            if let vmUUID { q = q.filter(Column("vmUUID") == vmUUID) }
            if let since { q = q.filter(Column("time") >= since.timeIntervalSince1970) }
            return try q.limit(limit).fetchAll(db).reversed()
        }
    }

    public func saveAgent(_ record: AgentRecord) throws {
        try db.write { try record.save($0) }
    }

    public func agent(vmUUID: String) throws -> AgentRecord? {
        try db.read { try AgentRecord.fetchOne($0, key: vmUUID) }
    }
}

/// One line of the persistent event log.
public struct EventRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "event"
    public var id: Int64?
    public var time: Double
    public var vmUUID: String?
    public var vmName: String?
    public var kind: String
    public var message: String

    public init(time: Date = Date(), vmUUID: String?, vmName: String?, kind: String, message: String) {
        self.time = time.timeIntervalSince1970
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.kind = kind
        self.message = message
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// What the last agent hello of a VM said.
public struct AgentRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "agent"
    public var vmUUID: String
    public var agentVersion: String?
    public var guestOS: String?
    public var kernel: String?
    public var bootID: String?
    public var lastHello: Double?
}
