import ArgumentParser
import Core
import FoundationEssentials
import Glibc

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show vigild's event log: failures, recoveries, alerts, lifecycle.",
        discussion: "With --json, prints one JSON object per event per line (also with --follow).")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Only events of this VM (name or UUID).") var vm: String?
    @Option(name: .long, help: "Only events since: a duration ago (30s, 10m, 2h, 1d) or an ISO 8601 time.")
    var since: String?
    @Flag(name: .long, help: "Keep printing new events as they happen (Ctrl-C to stop).") var follow = false

    func validate() throws {
        if let since, Self.parseSince(since) == nil {
            throw ValidationError("--since must be a duration like 30s, 10m, 2h, 1d or an ISO 8601 time such as 2026-01-31T12:00:00Z, got '\(since)'")
        }
    }

    static func parseSince(_ text: String, now: Date = Date()) -> Date? {
        if let seconds = TextFormat.durationSeconds(text) { return now.addingTimeInterval(-seconds) }
        return try? Date(text, strategy: .iso8601)
    }

    func run() async throws {
        var query: [String] = []
        if let vm { query.append("vm=\(vm.percentEscaped)") }
        if let since, let date = Self.parseSince(since) { query.append("since=\(date.timeIntervalSince1970)") }
        var lastID: Int64?
        repeat {
            var q = query
            if let lastID { q = q.filter { !$0.hasPrefix("since=") } + ["after=\(lastID)", "wait=25"] }
            let path = "/v1/events" + (q.isEmpty ? "" : "?" + q.joined(separator: "&"))
            let events = try await global.client.get(path).decode(EventList.self).events
            for e in events { print(global.json ? Self.jsonLine(e) : Self.line(e)) }
            fflush(nil as UnsafeMutablePointer<FILE>?)  // follow mode: each batch out at once
            if let last = events.last { lastID = last.id } else if lastID == nil { lastID = 0 }
        } while follow
    }

    static func jsonLine(_ e: VigilEvent) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(e)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func line(_ e: VigilEvent) -> String {
        let time = TextFormat.localTime(e.time, millis: true)
        var text = "\(time)  \(e.kind.padding(10)) \((e.vmName ?? "-").padding(16)) \(e.message)"
        if let d = e.durationMs { text += " [\(TextFormat.fixed(d, places: 1)) ms]" }
        return text
    }
}
