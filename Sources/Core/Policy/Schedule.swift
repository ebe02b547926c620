// FoundationEssentials only: Core is linked into the CLI and vigil-agent-verify,
// which must not load ICU (full Foundation) for a calendar.
import FoundationEssentials

/// When a recurring job runs (snapshot and backup policies): every fixed
/// interval, daily at a time, or weekly on some days at a time. Times of day
/// are the host's local time. Written as text the way an admin types it:
/// `every 30s|15m|6h`, `daily 02:30`, `weekly mon,thu 02:30`.
public enum Schedule: Sendable, Equatable, Codable, CustomStringConvertible {
    case every(seconds: Int)
    /// Minutes after local midnight.
    case daily(minute: Int)
    /// Days as 1 = Monday … 7 = Sunday.
    case weekly(days: [Int], minute: Int)

    static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws {
        let words = text.lowercased().split(separator: " ").map(String.init)
        let usage = "write 'every 30s|15m|6h', 'daily HH:MM' or 'weekly mon,thu HH:MM'"
        switch (words.first, words.count) {
        case ("every", 2):
            let w = words[1]
            guard let unit = w.last, let n = Int(w.dropLast()), n > 0,
                  let factor = ["s": 1, "m": 60, "h": 3600, "d": 86_400][String(unit)] else {
                throw Invalid(description: "'\(text)' is not an interval; \(usage)")
            }
            guard n * factor >= 5, n * factor <= 366 * 86_400 else {
                throw Invalid(description: "an interval must be 5 s to 366 days, got '\(w)'")
            }
            self = .every(seconds: n * factor)
        case ("daily", 2):
            self = .daily(minute: try Self.timeOfDay(words[1], text: text))
        case ("weekly", 3):
            var days: [Int] = []
            for d in words[1].split(separator: ",") {
                guard let i = Self.dayNames.firstIndex(of: String(d.prefix(3))) else {
                    throw Invalid(description: "'\(d)' is not a day (mon … sun) in '\(text)'")
                }
                if !days.contains(i + 1) { days.append(i + 1) }
            }
            guard !days.isEmpty else { throw Invalid(description: "no days in '\(text)'; \(usage)") }
            self = .weekly(days: days.sorted(), minute: try Self.timeOfDay(words[2], text: text))
        default:
            throw Invalid(description: "'\(text)' is not a schedule; \(usage)")
        }
    }

    private static func timeOfDay(_ s: String, text: String) throws -> Int {
        let parts = s.split(separator: ":")
        guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else {
            throw Invalid(description: "'\(s)' is not a time of day HH:MM in '\(text)'")
        }
        return h * 60 + m
    }

    public var description: String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        func hhmm(_ m: Int) -> String { "\(two(m / 60)):\(two(m % 60))" }
        switch self {
        case .every(let s):
            if s % 86_400 == 0 { return "every \(s / 86_400)d" }
            if s % 3600 == 0 { return "every \(s / 3600)h" }
            if s % 60 == 0 { return "every \(s / 60)m" }
            return "every \(s)s"
        case .daily(let m): return "daily \(hhmm(m))"
        case .weekly(let days, let m): return "weekly \(days.map { Self.dayNames[$0 - 1] }.joined(separator: ",")) \(hhmm(m))"
        }
    }

    /// An interval runs at once when never run; a time of day waits for its
    /// next occurrence, counted from when the policy was set (so a new
    /// policy records that moment as its last run: without an anchor, the
    /// next occurrence would move on with the clock and never come).
    public var runsAtOnce: Bool { if case .every = self { true } else { false } }

    /// The anchor a new policy starts from: nil (run at once) or `now`.
    public func firstAnchor(now: Date) -> Double? { runsAtOnce ? nil : now.timeIntervalSince1970 }

    /// The first run strictly after `last` (or, never run, the first from
    /// `now` on: an interval runs at once, a time of day at its next
    /// occurrence). A run missed while vigild was down happens once, at the
    /// next check, not once per missed slot.
    public func nextRun(after last: Date?, now: Date, calendar: Calendar = .current) -> Date {
        switch self {
        case .every(let s):
            guard let last else { return now }
            return last.addingTimeInterval(Double(s))
        case .daily(let minute):
            return nextSlot(after: last ?? now, calendar: calendar, minute: minute) { _ in true }
        case .weekly(let days, let minute):
            return nextSlot(after: last ?? now, calendar: calendar, minute: minute) { weekday in
                // Calendar's weekday: 1 = Sunday … 7 = Saturday.
                days.contains(weekday == 1 ? 7 : weekday - 1)
            }
        }
    }

    private func nextSlot(after date: Date, calendar: Calendar, minute: Int, day allowed: (Int) -> Bool) -> Date {
        var day = calendar.startOfDay(for: date)
        for _ in 0..<15 {
            if allowed(calendar.component(.weekday, from: day)),
               let slot = calendar.date(bySettingHour: minute / 60, minute: minute % 60, second: 0, of: day), slot > date {
                return slot
            }
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            day = next
        }
        return date.addingTimeInterval(86_400)
    }

    // Codable as its text, so the API and the database carry what the admin typed.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch let e as Invalid {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: e.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A snapshot policy: which VMs, when, how many of its snapshots to keep.
public struct SnapshotPolicy: Codable, Sendable, Equatable {
    public var name: String
    /// VM names or UUIDs.
    public var vms: [String]
    public var schedule: Schedule
    /// Snapshots this policy made beyond this many (per VM) are deleted, oldest first.
    public var keep: Int
    public var memory: Bool
    /// A run is skipped (and logged) when the VM's storage has less free space than this.
    public var minFreePercent: Int
    /// Unix time of the last run (set by vigild).
    public var lastRun: Double?

    public init(name: String, vms: [String], schedule: Schedule, keep: Int, memory: Bool = false,
                minFreePercent: Int = 10, lastRun: Double? = nil) {
        self.name = name
        self.vms = vms
        self.schedule = schedule
        self.keep = keep
        self.memory = memory
        self.minFreePercent = minFreePercent
        self.lastRun = lastRun
    }

    public var problems: [String] {
        var p: [String] = []
        if SnapshotRequest.nameProblem(name) != nil {
            p.append("policy name must be 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.' or '-'), got '\(name)'")
        }
        if vms.isEmpty { p.append("a policy needs at least one VM (--vm NAME)") }
        if !(1...1000).contains(keep) { p.append("keep must be 1 to 1000, got \(keep)") }
        if !(0...99).contains(minFreePercent) { p.append("minimum free space must be 0 to 99 %, got \(minFreePercent)") }
        return p
    }
}
