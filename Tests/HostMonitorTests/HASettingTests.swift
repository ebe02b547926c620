import Core
import Foundation
import Testing
import TestSupport

/// The HA setting takes effect: with HA off a hung guest is recorded but not
/// restarted; switched back on, the next hang is recovered.
@Suite struct HASettingTests {
    @Test func haOffRecordsAHangWithoutRestartingAndOnRecoversAgain() throws {
        let rig = try FakeGuestTests.rig(["ha1"])
        defer { rig.dir.remove() }
        let ch = try #require(rig.channels["ha1"])
        let off = try rig.daemon.vigil(["vm", "settings", "ha1", "--ha", "off"])
        #expect(off.status == 0, "\(off.stderr)")
        func events() throws -> [VigilEvent] { try rig.daemon.events(vm: "ha1") }
        func waitFor(_ what: String, _ check: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                if try check() { return }
                usleep(100_000)
            }
            throw TestbedError("timed out waiting for \(what)")
        }

        ch.send(FakeGuestTests.hello("ha1"))
        ch.send(FakeGuestTests.beat(1))
        // Silence: a hang after 3 × 200 ms.
        try waitFor("failure") { try events().contains { $0.kind == "failure" } }
        usleep(1_500_000)
        let failure = try #require(try events().first { $0.kind == "failure" })
        #expect(failure.cause == "heartbeat-loss" && failure.message.contains("HA is off") && failure.outcome == "ignored", "\(failure)")
        #expect(!(try events()).contains { $0.kind == "recovery" })

        #expect(try rig.daemon.vigil(["vm", "settings", "ha1", "--ha", "on"]).status == 0)
        ch.send(FakeGuestTests.hello("ha1", boot: "boot-2"))
        ch.send(FakeGuestTests.beat(1))
        try waitFor("recovery") { try events().contains { $0.kind == "recovery" } }
        #expect(try events().last { $0.kind == "failure" }?.action == "restart")
    }
}
