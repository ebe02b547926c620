import Core
import Foundation
import GRDB

/// A bearer token of the remote API as kept in vigild's database: its
/// SHA-256 only, never the secret.
struct APITokenRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "apiToken"
    var name: String
    var role: String
    /// Lowercase hex SHA-256 of the whole token string.
    var sha256: String
    var createdAt: Double
    var expiresAt: Double?
    var lastUsedAt: Double?

    var info: APITokenInfo {
        APITokenInfo(name: name, role: APIRole(rawValue: role) ?? .read, createdAt: createdAt, expiresAt: expiresAt,
                     lastUsedAt: lastUsedAt)
    }

    /// Registered in `StateStore.migrator`.
    static func migrate(_ db: Database) throws {
        try db.create(table: databaseTableName) { t in
            t.primaryKey("name", .text)
            t.column("role", .text).notNull()
            t.column("sha256", .text).notNull().unique()
            t.column("createdAt", .double).notNull()
            t.column("expiresAt", .double)
            t.column("lastUsedAt", .double)
        }
    }
}

extension StateStore {
    /// Adds a token; false when the name is taken.
    func addToken(_ record: APITokenRecord) throws -> Bool {
        try db.write { db in
            guard try APITokenRecord.fetchOne(db, key: record.name) == nil else { return false }
            try record.insert(db)
            return true
        }
    }

    func tokens() throws -> [APITokenRecord] {
        try db.read { try APITokenRecord.order(Column("name")).fetchAll($0) }
    }

    func token(sha256: String) throws -> APITokenRecord? {
        try db.read { try APITokenRecord.filter(Column("sha256") == sha256).fetchOne($0) }
    }

    /// Removes a token; false when there is none of that name.
    func removeToken(name: String) throws -> Bool {
        try db.write { try APITokenRecord.deleteOne($0, key: name) }
    }

    func markTokenUsed(name: String, at time: Double) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE apiToken SET lastUsedAt = ? WHERE name = ?", arguments: [time, name])
        }
    }
}
