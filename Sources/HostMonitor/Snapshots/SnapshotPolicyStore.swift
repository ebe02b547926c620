import Core
import Foundation
import GRDB

/// Snapshot policies and which snapshots a policy made (so pruning never
/// touches one taken by hand), in vigild's database.
struct SnapshotPolicyRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "snapshotPolicy"
    var name: String
    /// The policy as JSON (its schedule as the admin wrote it).
    var definition: String
}

struct SnapshotOriginRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "snapshotOrigin"
    var vmUUID: String
    var snapshot: String
    var policy: String
    var created: Double
}

extension SnapshotPolicyRow {
    /// Registered in `StateStore.migrator`.
    static func migrate(_ db: Database) throws {
        try db.create(table: databaseTableName) { t in
            t.primaryKey("name", .text)
            t.column("definition", .text).notNull()
        }
        try db.create(table: SnapshotOriginRow.databaseTableName) { t in
            t.column("vmUUID", .text).notNull()
            t.column("snapshot", .text).notNull()
            t.column("policy", .text).notNull().indexed()
            t.column("created", .double).notNull()
            t.primaryKey(["vmUUID", "snapshot"])
        }
    }
}

extension StateStore {
    func saveSnapshotPolicy(_ p: SnapshotPolicy) throws {
        let json = String(decoding: try JSONEncoder().encode(p), as: UTF8.self)
        try db.write { try SnapshotPolicyRow(name: p.name, definition: json).save($0) }
    }

    func snapshotPolicies() throws -> [SnapshotPolicy] {
        try db.read { try SnapshotPolicyRow.order(Column("name")).fetchAll($0) }.compactMap {
            try? JSONDecoder().decode(SnapshotPolicy.self, from: Data($0.definition.utf8))
        }
    }

    /// Whether it existed.
    func deleteSnapshotPolicy(_ name: String) throws -> Bool {
        try db.write { try SnapshotPolicyRow.deleteOne($0, key: name) }
    }

    func recordSnapshotOrigin(vmUUID: String, snapshot: String, policy: String) throws {
        try db.write {
            try SnapshotOriginRow(vmUUID: vmUUID, snapshot: snapshot, policy: policy, created: Date().timeIntervalSince1970).save($0)
        }
    }

    /// Snapshot name → policy, for one VM.
    func snapshotOrigins(vmUUID: String) throws -> [String: String] {
        let rows = try db.read { try SnapshotOriginRow.filter(Column("vmUUID") == vmUUID).fetchAll($0) }
        return Dictionary(rows.map { ($0.snapshot, $0.policy) }, uniquingKeysWith: { a, _ in a })
    }

    func forgetSnapshotOrigin(vmUUID: String, snapshot: String) throws {
        _ = try db.write { try SnapshotOriginRow.deleteOne($0, key: ["vmUUID": vmUUID, "snapshot": snapshot]) }
    }
}

extension StateStore {
    /// The snapshots `policy` made of one VM, with when.
    func snapshotOriginTimes(vmUUID: String, policy: String) throws -> [(name: String, created: Double)] {
        try db.read {
            try SnapshotOriginRow.filter(Column("vmUUID") == vmUUID && Column("policy") == policy).fetchAll($0)
        }.map { ($0.snapshot, $0.created) }
    }
}
