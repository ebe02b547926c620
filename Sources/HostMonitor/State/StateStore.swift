import Core
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
        // WAL: one fsync per commit instead of several, so journalling each
        // step of a long operation before doing it stays cheap.
        config.journalMode = .wal
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
        m.registerMigration("v2-event-details") { db in
            try db.alter(table: "event") { t in
                t.add(column: "cause", .text)
                t.add(column: "action", .text)
                t.add(column: "outcome", .text)
                t.add(column: "durationMs", .double)
            }
            try db.alter(table: "agent") { t in
                // Whether the agent was heartbeating when last seen, per boot.
                t.add(column: "alive", .boolean).notNull().defaults(to: false)
            }
        }
        registerOperationMigrations(&m)
        m.registerMigration("v3-recycle-bin", migrate: RecycleRecord.migrate)
        m.registerMigration("v4-migrations", migrate: MigrationRecord.migrate)
        m.registerMigration("v5-api-tokens", migrate: APITokenRecord.migrate)
        m.registerMigration("v6-snapshots", migrate: SnapshotPolicyRow.migrate)
        m.registerMigration("v7-backup-policies", migrate: BackupPolicyRow.migrate)
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

    public func events(vmUUID: String? = nil, since: Date? = nil, afterID: Int64? = nil,
                       kinds: [String]? = nil, limit: Int = 1000) throws -> [EventRecord] {
        try db.read { db in
            var q = EventRecord.order(Column("id").desc)
            if let vmUUID { q = q.filter(Column("vmUUID") == vmUUID) }
            if let afterID { q = q.filter(Column("id") > afterID) }
            if let kinds { q = q.filter(kinds.contains(Column("kind"))) }
            if let since { q = q.filter(Column("time") >= since.timeIntervalSince1970) }
            return try q.limit(limit).fetchAll(db).reversed()
        }
    }

    /// The UUID the event log knows for a VM name (or UUID), newest first:
    /// VMs that left this host (migrated, undefined) keep their history.
    public func loggedVMUUID(nameOrUUID: String) throws -> String? {
        try db.read { db in
            try EventRecord.filter(Column("vmName") == nameOrUUID || Column("vmUUID") == nameOrUUID)
                .order(Column("id").desc).fetchOne(db)?.vmUUID
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
    /// For failures and recoveries: what was detected and what was done.
    public var cause: String?
    public var action: String?
    public var outcome: String?
    /// Detection latency (failures) or action duration (recoveries).
    public var durationMs: Double?

    public init(time: Date = Date(), vmUUID: String?, vmName: String?, kind: String, message: String,
                cause: String? = nil, action: String? = nil, outcome: String? = nil, durationMs: Double? = nil) {
        self.time = time.timeIntervalSince1970
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.kind = kind
        self.message = message
        self.cause = cause
        self.action = action
        self.outcome = outcome
        self.durationMs = durationMs
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
    public var alive: Bool
}
