import Foundation
import GRDB
import Logging
import ServiceLifecycle

/// Keeps the event log from growing for ever: events older than
/// `maxAgeDays`, and the oldest beyond `maxCount`, are deleted at start and
/// then hourly, a few thousand rows per transaction so writers (the
/// protection path logs through the same database) never wait long.
struct EventRetention: Service {
    let store: StateStore
    let logger: Logger
    /// `event-retention-days` and `event-max-count`, changeable by SIGHUP.
    let limits: @Sendable () -> (maxAgeDays: Double, maxCount: Int)
    var interval: Duration = .seconds(3600)
    var batch = 5000

    init(store: StateStore, logger: Logger, limits: @escaping @Sendable () -> (maxAgeDays: Double, maxCount: Int),
         batch: Int = 5000) {
        self.store = store
        self.logger = logger
        self.limits = limits
        self.batch = batch
    }

    init(store: StateStore, logger: Logger, maxAgeDays: Double, maxCount: Int, batch: Int = 5000) {
        self.init(store: store, logger: logger, limits: { (maxAgeDays, maxCount) }, batch: batch)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await prune(now: Date())
                    if removed > 0 { logger.info("event log: removed \(removed) event(s) beyond the retention") }
                } catch is CancellationError {
                    break
                } catch {
                    logger.error("event log retention failed: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Deletes what the retention no longer keeps; returns how many.
    func prune(now: Date) async throws -> Int {
        let (maxAgeDays, maxCount) = limits()
        let cutoff = now.timeIntervalSince1970 - maxAgeDays * 86_400
        var removed = 0
        while true {
            let n = try await store.db.write { db -> Int in
                try db.execute(sql: "DELETE FROM event WHERE id IN (SELECT id FROM event WHERE time < ? ORDER BY id LIMIT ?)",
                               arguments: [cutoff, batch])
                return db.changesCount
            }
            removed += n
            if n < batch { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        while true {
            let n = try await store.db.write { db -> Int in
                // The id of the newest event beyond the count, and everything up to it.
                guard let last = try Int64.fetchOne(db, sql: "SELECT id FROM event ORDER BY id DESC LIMIT 1 OFFSET ?",
                                                    arguments: [maxCount]) else { return 0 }
                try db.execute(sql: "DELETE FROM event WHERE id IN (SELECT id FROM event WHERE id <= ? ORDER BY id LIMIT ?)",
                               arguments: [last, batch])
                return db.changesCount
            }
            removed += n
            if n < batch { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        return removed
    }
}
