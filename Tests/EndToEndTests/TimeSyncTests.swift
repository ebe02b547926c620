import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// Guest clock sync over the agent channel, in real guests whose clocks were
/// put off through qemu-guest-agent.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct TimeSyncTests {
    static let uri = "qemu:///system"

    static func timeStatus(_ daemon: DaemonProcess, _ vm: String, sync: Bool = false) throws -> TimeStatus {
        let r = try daemon.vigil(["vm", "time", vm, "--json"] + (sync ? ["--sync"] : []))
        guard r.status == 0 else { throw TestbedError("vigil vm time failed: \(r.stderr)") }
        return try JSONDecoder().decode(TimeStatus.self, from: Data(r.stdout.utf8))
    }

    static func timeEvents(_ daemon: DaemonProcess, _ vm: String) throws -> [VigilEvent] {
        try daemon.events(vm: vm).filter { $0.kind == "time" }
    }

    /// A guest under vigild with qemu-ga as well (to set its clock wrong).
    static func guest() async throws -> ProtectionTests.Setup {
        try await ProtectionTests.protectedGuest(guestArguments: ["--qga"])
    }

    @Test func cliShowsTheOffsetAndSyncStepsAClockThatIsFarOff() async throws {
        let s = try await Self.guest()
        defer { s.remove() }
        try GuestClock.set(s.guest, uri: Self.uri, offBy: 30)
        let off = try Self.timeStatus(s.daemon, s.guest.name)
        #expect(abs(off.offsetMs - 30_000) < 2_000, "measured \(off.offsetMs) ms")
        #expect(off.delayMs >= 0 && off.delayMs < 100)
        #expect(off.timeSync)

        let synced = try Self.timeStatus(s.daemon, s.guest.name, sync: true)
        #expect(synced.correction == "step")
        #expect(abs((synced.offsetBeforeMs ?? 0) - 30_000) < 2_000)
        #expect(abs(synced.offsetMs) < 5, "after sync: \(synced.offsetMs) ms")
        // And it stays right when measured again, independently.
        #expect(abs(try Self.timeStatus(s.daemon, s.guest.name).offsetMs) < 5)
        #expect(try Self.timeEvents(s.daemon, s.guest.name).contains { $0.message.contains("requested") && $0.action == "step" })
    }

    @Test func resumeFromPauseStepsTheClockBack() async throws {
        let s = try await Self.guest()
        defer { s.remove() }
        try GuestClock.set(s.guest, uri: Self.uri, offBy: -5)
        let before = try Self.timeEvents(s.daemon, s.guest.name).count
        try s.guest.domain.suspend()
        try await Task.sleep(for: .seconds(1))
        try s.guest.domain.resume()
        try await s.daemon.waitUntil("sync after resume", timeout: 30) {
            try Self.timeEvents(s.daemon, s.guest.name).dropFirst(before).contains { $0.message.contains("resumed") }
        }
        let event = try #require(try Self.timeEvents(s.daemon, s.guest.name).last)
        #expect(event.action == "step", "\(event.message)")
        #expect(abs(try Self.timeStatus(s.daemon, s.guest.name).offsetMs) < 5)
    }

    @Test func smallOffsetIsSlewedNotStepped() async throws {
        let s = try await Self.guest()
        defer { s.remove() }
        // Aim for the guest some ms behind (setting it through qemu-ga takes
        // ~15 ms, so 5 ms ahead lands there). Behind, because the pause below
        // puts the guest further behind by its length: ahead, the two could
        // cancel out to no offset at all.
        var offset = 0.0
        for _ in 0..<8 {
            try GuestClock.set(s.guest, uri: Self.uri, offBy: 0.005)
            offset = try Self.timeStatus(s.daemon, s.guest.name).offsetMs
            if offset < -3 && offset > -30 { break }
        }
        try #require(offset < -3 && offset > -30, "could not set a small offset (last \(offset) ms)")
        let before = try Self.timeEvents(s.daemon, s.guest.name).count
        try s.guest.domain.suspend()
        try s.guest.domain.resume()
        try await s.daemon.waitUntil("sync after resume", timeout: 30) {
            try Self.timeEvents(s.daemon, s.guest.name).dropFirst(before).contains { $0.message.contains("resumed") }
        }
        let event = try #require(try Self.timeEvents(s.daemon, s.guest.name).last)
        #expect(event.action == "slew", "\(event.message)")
        // The kernel slews 0.5 ms per second: after 4 s the offset shrank by about 2 ms.
        let start = try Self.timeStatus(s.daemon, s.guest.name).offsetMs
        try await Task.sleep(for: .seconds(4))
        let later = try Self.timeStatus(s.daemon, s.guest.name).offsetMs
        #expect(abs(later) < abs(start) - 1, "offset \(start) ms then \(later) ms")
    }
}
