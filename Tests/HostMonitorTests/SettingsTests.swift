import Core
import Foundation
import Testing
import TestSupport

/// `vigil vm settings` through a real vigild on libvirt's test driver: every
/// field round-trips through libvirt (title, description, blkio weight,
/// policy and settings metadata), and bad values are refused with the
/// accepted ones named.
@Suite struct SettingsTests {
    func settings(_ daemon: DaemonProcess, _ args: [String]) throws -> VMSettingsDocument {
        let r = try daemon.vigil(["vm", "settings", "test"] + args + ["--json"])
        guard r.status == 0 else { throw TestbedError("vigil vm settings \(args) failed: \(r.stderr)") }
        return try JSONDecoder().decode(VMSettingsDocument.self, from: Data(r.stdout.utf8))
    }

    @Test func everySettingRoundTripsThroughLibvirt() throws {
        let dir = try TemporaryDirectory("vs")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        defer { daemon.stop() }

        let before = try settings(daemon, [])
        #expect(before.displayName == nil && before.description == nil && before.ioWeight == nil)
        #expect(before.haEnabled == true && before.haPriority == .medium && before.autoMigrate == true)
        #expect(before.onCrash == .restart && before.timeSync == true && before.autoUpgrade == false)

        let set = try settings(daemon, ["--display-name", "Web front 1", "--description", "serves <www> & more",
                                        "--io-weight", "800", "--on-crash", "ignore", "--ha", "off", "--ha-priority", "high",
                                        "--auto-migrate", "off", "--time-sync", "off", "--auto-upgrade", "on"])
        // Read back from libvirt by a fresh GET, not echoed from the request.
        for s in [set, try settings(daemon, [])] {
            #expect(s.displayName == "Web front 1")
            #expect(s.description == "serves <www> & more")
            #expect(s.ioWeight == 800)
            #expect(s.onCrash == .ignore)
            #expect(s.haEnabled == false && s.haPriority == .high && s.autoMigrate == false)
            #expect(s.timeSync == false && s.autoUpgrade == true)
        }
        // The crash action went through the policy: `vigil policy show` agrees.
        #expect(try daemon.vigil(["policy", "show", "test"]).stdout.contains("ignore"))

        // A subset changes only itself; "" removes a text field.
        let partial = try settings(daemon, ["--ha", "on", "--display-name", ""])
        #expect(partial.haEnabled == true && partial.displayName == nil)
        #expect(partial.haPriority == .high && partial.ioWeight == 800 && partial.description == "serves <www> & more")

        let table = try daemon.vigil(["vm", "settings", "test"])
        for text in ["I/O weight      800", "HA              on (priority high)", "auto-migration  off"] {
            #expect(table.stdout.contains(text), "missing '\(text)' in:\n\(table.stdout)")
        }
        let log = try daemon.events(vm: "test").filter { $0.kind == "settings" }
        #expect(log.count == 2)
        #expect(log.first?.message.contains("I/O weight 800") == true && log.first?.message.contains("HA off") == true)
    }

    @Test func badValuesAreRefusedNamingTheAcceptedOnes() throws {
        let dir = try TemporaryDirectory("vs")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        defer { daemon.stop() }
        let cases: [([String], [String])] = [
            (["--ha-priority", "urgent"], ["'high', 'medium' or 'low'"]),
            (["--ha", "maybe"], ["'on'", "'off'"]),
            (["--on-crash", "reboot"], ["restart", "migrate", "ignore"]),
            (["--io-weight", "5"], ["100 to 1000"]),
            // Checked by vigild itself (the CLI passes it on).
            (["--display-name", "two\nlines"], ["display name must be one line", "hint:"]),
        ]
        for (args, expected) in cases {
            let r = try daemon.vigil(["vm", "settings", "test"] + args)
            #expect(r.status != 0, "\(args) was accepted")
            for text in expected { #expect(r.stderr.contains(text), "\(args): missing '\(text)' in: \(r.stderr)") }
        }
        #expect(try settings(daemon, []).haPriority == .medium)
    }
}
