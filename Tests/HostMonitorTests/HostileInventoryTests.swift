import Core
import Foundation
import Testing
import TestSupport

/// `vigil vm hardware` against a fake guest that answers its inventory
/// request with a reply for another request and then an oversized one:
/// vigild takes only the matching reply and bounds what it shows.
@Suite struct HostileInventoryTests {
    @Test func inventoryRepliesAreMatchedByIDAndBounded() async throws {
        let rig = try FakeGuestTests.rig(["inv", "old"])
        defer { rig.dir.remove() }
        let ch = try #require(rig.channels["inv"]), old = try #require(rig.channels["old"])
        ch.send(AgentCodec.encode(.hello(.init(agentVersion: "9.9.9", os: "FakeOS", kernel: "6.1", bootID: "b", hostname: "inv",
                                                 capabilities: ["heartbeat", "inventory"]))))
        old.send(FakeGuestTests.hello("old"))
        let beats = [FakeGuestTests.heartbeating(ch), FakeGuestTests.heartbeating(old)]
        defer { beats.forEach { $0.cancel() } }
        try FakeGuestTests().waitFor("agents alive") {
            try FakeGuestTests().status(rig, "inv")?.state == .alive && FakeGuestTests().status(rig, "old")?.state == .alive
        }
        // An agent without the capability is not asked (it would not answer).
        let oldReport = try JSONDecoder().decode(HardwareReport.self, from: Data(try rig.daemon.vigil(["vm", "hardware", "old", "--json"]).stdout.utf8))
        #expect(oldReport.guest == nil && oldReport.guestNote?.contains("upgrade it") == true, "\(oldReport)")
        #expect(!old.receivedText.contains("inventory_request"))

        let daemon = rig.daemon
        // Started at once on a thread of its own: a task would wait for the
        // cooperative pool, which other suites' blocking waits can hold for
        // longer than this test waits for the request.
        let query = Answer()
        Thread.detachNewThread { query.set(Result { try daemon.vigil(["vm", "hardware", "inv", "--json"]) }) }
        var id: UInt64?
        try FakeGuestTests().waitFor("inventory request") {
            let text = ch.receivedText
            guard let request = text.range(of: "\"inventory_request\"") else { return false }
            let start = text[..<request.lowerBound].lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex
            let line = text[start...].prefix { $0 != "\n" }
            guard let idKey = line.range(of: "\"id\":") else { return false }
            id = UInt64(line[idKey.upperBound...].prefix { $0.isNumber })
            return id != nil
        }
        let asked = try #require(id)
        let long = String(repeating: "n", count: 200) + "\u{1b}[2J"
        func reply(_ id: UInt64, cpus: Int) -> [UInt8] {
            AgentCodec.encode(.inventory(.init(id: id, cpusOnline: cpus, memTotalKiB: .max,
                                               nics: Array(repeating: .init(name: long, mac: "52:54:00:00:00:01"), count: 200),
                                               disks: [.init(name: "vda", sizeBytes: 1 << 30)], onlined: [])))
        }
        #expect(reply(asked, cpus: 1).count < AgentProtocol.maxLineBytes)
        ch.send(reply(asked + 1000, cpus: 99))   // answers nothing vigild asked: dropped
        ch.send(reply(asked, cpus: 1_000_000))
        try FakeGuestTests().waitFor("vigil vm hardware to answer") { query.value != nil }
        let r = try #require(query.value).get()
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONDecoder().decode(HardwareReport.self, from: Data(r.stdout.utf8))
        let guest = try #require(report.guest, "\(report.guestNote ?? "")")
        #expect(guest.id == asked && guest.cpusOnline == 4096 && guest.memTotalKiB == 1 << 40)
        #expect(guest.nics.count == 64 && guest.nics.allSatisfy { $0.name == String(repeating: "n", count: 64) })
        #expect(guest.disks == [.init(name: "vda", sizeBytes: 1 << 30)])
    }
}

/// The result of a command run on another thread.
private final class Answer: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<CommandResult, any Error>?
    func set(_ r: Result<CommandResult, any Error>) { lock.withLock { result = r } }
    var value: Result<CommandResult, any Error>? { lock.withLock { result } }
}
