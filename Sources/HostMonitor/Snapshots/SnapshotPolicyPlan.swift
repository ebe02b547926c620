import Core
import Foundation

/// The decisions of snapshot policies, apart from doing them: which
/// policies are due, when to look again, which policy-made snapshots to
/// delete. Pure, tested over a clock.
enum SnapshotPolicyPlan {
    /// The policies due at `now`, and when the next one (not yet due) will be.
    static func due(_ policies: [SnapshotPolicy], now: Date, calendar: Calendar = .current) -> (due: [String], next: Date?) {
        var due: [String] = []
        var next: Date?
        for p in policies {
            let at = p.schedule.nextRun(after: p.lastRun.map { Date(timeIntervalSince1970: $0) }, now: now, calendar: calendar)
            if at <= now { due.append(p.name) } else { next = min(next ?? at, at) }
        }
        return (due, next)
    }

    /// Of the snapshots `policy` made (name → creation time), the oldest
    /// beyond `keep`, oldest first. Hand-made ones are never in `made`.
    static func prune(_ made: [(name: String, created: Double)], keep: Int) -> [String] {
        let sorted = made.sorted { ($0.created, $0.name) < ($1.created, $1.name) }
        return sorted.count > keep ? sorted.prefix(sorted.count - keep).map(\.name) : []
    }

    /// A policy snapshot's name: the policy's and the time, sortable.
    static func snapshotName(policy: String, at date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return "\(policy)-\(f.string(from: date))"
    }
}
