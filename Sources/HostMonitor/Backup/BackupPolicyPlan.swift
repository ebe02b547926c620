import Core
import Foundation

/// The decisions of backup policies, apart from doing them: what is due at
/// a moment (a backup at which level, a verify) and when to look again.
/// Pure, tested over a clock.
enum BackupPolicyPlan {
    enum Work: Equatable, Sendable {
        case backup(policy: String, level: BackupLevel)
        case verify(policy: String)
    }

    static func due(_ policies: [BackupPolicy], now: Date, calendar: Calendar = .current) -> (work: [Work], next: Date?) {
        var work: [Work] = [], next: Date?
        func consider(_ at: Date) -> Bool {
            if at <= now { return true }
            next = min(next ?? at, at)
            return false
        }
        for p in policies {
            let last = { (t: Double?) in t.map { Date(timeIntervalSince1970: $0) } }
            // A full due now replaces the regular run due with it: one backup, not two.
            let fullDue = p.fullSchedule.map { consider($0.nextRun(after: last(p.lastFull), now: now, calendar: calendar)) } ?? false
            let runDue = consider(p.schedule.nextRun(after: last(p.lastRun), now: now, calendar: calendar))
            if fullDue { work.append(.backup(policy: p.name, level: .full)) } else if runDue { work.append(.backup(policy: p.name, level: p.level)) }
            if let v = p.verifySchedule, consider(v.nextRun(after: last(p.lastVerify), now: now, calendar: calendar)) {
                work.append(.verify(policy: p.name))
            }
        }
        return (work, next)
    }

    /// The policy after `work` ran at `now` (when each of its schedules last ran).
    static func ran(_ work: Work, _ p: BackupPolicy, at now: Date) -> BackupPolicy {
        var p = p
        let t = now.timeIntervalSince1970
        switch work {
        case .backup(_, let level):
            p.lastRun = t
            if level == .full { p.lastFull = t }
        case .verify:
            p.lastVerify = t
        }
        return p
    }
}
