import Core
import Foundation
import Testing
import TestSupport

/// vigild as a real process against libvirt's test driver, driven through
/// the real `vigil` CLI.
@Suite struct DaemonTests {
    struct VMList: Decodable { let vms: [VMSummary] }

    @Test func vmListJSONReturnsTheDriversDomain() throws {
        let dir = try TemporaryDirectory("vd")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        let result = try daemon.vigil(["vm", "list", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let list = try JSONDecoder().decode(VMList.self, from: Data(result.stdout.utf8))
        let vm = try #require(list.vms.first { $0.name == "test" })
        #expect(vm.state == "running")
        #expect(vm.uuid.count == 36)
        // The test driver's domain has no Vigil channel.
        #expect(vm.agent == .unprotected)

        let table = try daemon.vigil(["vm", "list"])
        #expect(table.stdout.contains("NAME"))
        #expect(table.stdout.contains(vm.uuid))
        #expect(daemon.stop() == 0)
    }

    /// Names defined outside Vigil may hold characters that mean something
    /// in a URL: the CLI escapes them and vigild decodes them, in paths and
    /// in queries alike.
    @Test func vmNamesWithURLReservedCharactersReachVigild() throws {
        let dir = try TemporaryDirectory("vn")
        defer { dir.remove() }
        let name = "web 01#x?y%z+w"
        try FakeNode.write(to: dir.path + "/node.xml", domains: [(name, "7f1c0000-0000-4000-8000-0000000000aa", nil)])
        let daemon = try DaemonProcess(connect: "test://\(dir.path)/node.xml", directory: dir)
        defer { daemon.stop() }
        let set = try daemon.vigil(["vm", "settings", name, "--display-name", "Web front"])
        #expect(set.status == 0, "\(set.stderr)")
        let shown = try daemon.vigil(["vm", "settings", name, "--json"])
        #expect(shown.status == 0 && shown.stdout.contains("Web front"), "\(shown.stdout) \(shown.stderr)")
        let events = try daemon.events(vm: name)
        #expect(!events.isEmpty && events.allSatisfy { $0.vmName == name }, "\(events)")
        // A raw '%' that is no escape is refused with what to do.
        let raw = try ProcessRunner.run(["/bin/sh", "-c",
                                         "printf '%s\\r\\n\\r\\n' 'GET /v1/vms/bad%zz/settings HTTP/1.0' | socat - UNIX-CONNECT:\(daemon.socketPath)"])
        #expect(raw.stdout.contains("percent-escaped"), "\(raw.stdout)")
    }

    /// `vigil events`: --since as a duration or an ISO 8601 time, refused
    /// otherwise with what to give; human lines carry local times with
    /// milliseconds.
    @Test func eventsSinceAndHumanTimes() throws {
        let dir = try TemporaryDirectory("ve")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        defer { daemon.stop() }
        #expect(try daemon.vigil(["vm", "settings", "test", "--display-name", "T"]).status == 0)
        for since in ["10m", "2026-01-31T12:00:00Z"] {
            let r = try daemon.vigil(["events", "--since", since])
            #expect(r.status == 0 && r.stdout.contains("test"), "--since \(since): \(r.stdout) \(r.stderr)")
        }
        let future = try daemon.vigil(["events", "--since", "2099-01-01T00:00:00Z"])
        #expect(future.status == 0 && future.stdout.isEmpty, "\(future.stdout)")
        let bad = try daemon.vigil(["events", "--since", "yesterday"])
        #expect(bad.status != 0 && bad.stderr.contains("ISO 8601"), "\(bad.stderr)")
        let line = try #require(try daemon.vigil(["events"]).stdout.split(separator: "\n").first)
        let stamp = try #require(try Regex("^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}  ").firstMatch(in: String(line)))
        #expect(!stamp.output.isEmpty)
    }

    @Test func hostInfoDescribesTheConnection() throws {
        let dir = try TemporaryDirectory("vd")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        let result = try daemon.vigil(["host", "info", "--json"])
        #expect(result.status == 0)
        let info = try JSONDecoder().decode(HostInfo.self, from: Data(result.stdout.utf8))
        #expect(info.libvirtURI == "test:///default")
        #expect(info.libvirtConnected)
        #expect(info.driver.lowercased() == "test")
        #expect(info.domains >= 1)
        #expect(try daemon.vigil(["host", "info"]).stdout.contains("test:///default"))
    }

    @Test func sigtermShutsDownCleanlyAndRemovesSocket() throws {
        let dir = try TemporaryDirectory("vd")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        #expect(daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
        #expect(daemon.log.contains("vigild stopped"))
        #expect(FileManager.default.fileExists(atPath: daemon.stateDirectory + "/vigild.sqlite"))
    }

    @Test func staleSocketIsReplacedButALiveOneIsNot() throws {
        let dir = try TemporaryDirectory("vd")
        defer { dir.remove() }
        let first = try DaemonProcess(connect: "test:///default", directory: dir)
        first.kill()
        // The killed daemon left its socket behind; a new one takes over.
        #expect(FileManager.default.fileExists(atPath: first.socketPath))
        let second = try DaemonProcess(connect: "test:///default", directory: dir)
        #expect(try second.vigil(["vm", "list"]).status == 0)
        // A third one on the same socket must refuse, not steal it.
        let third = try ProcessRunner.run([BuiltProducts.path("vigild"), "--connect", "test:///default",
                                           "--state-dir", dir.path + "/s3", "--socket", second.socketPath], timeout: 20)
        #expect(third.status != 0)
        #expect(third.stderr.contains("another vigild is already listening"))
        #expect(try second.vigil(["vm", "list"]).status == 0)
    }

    @Test func cliErrorsSayWhatToDo() throws {
        let missing = try ProcessRunner.run([BuiltProducts.path("vigil"), "--socket", "/tmp/no-such-vigild.sock", "vm", "list"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("vigild is not running"))
        #expect(missing.stderr.contains("hint:"))

        let dir = try TemporaryDirectory("vd")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        let bad = try ProcessRunner.run([BuiltProducts.path("vigild"), "--default-heartbeat-interval", "0.01"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("heartbeat interval must be 0.1 to 60 seconds"))
        #expect(try daemon.vigil(["vm", "list"]).status == 0)
    }

    @Test func unreachableLibvirtIsReportedNotFatal() throws {
        let dir = try TemporaryDirectory("vd")
        defer { dir.remove() }
        // Nothing listens on this loopback address: vigild keeps serving and retrying.
        let daemon = try DaemonProcess(connect: "qemu+tcp://127.0.0.99:1/system", directory: dir,
                                       waitForLibvirt: false)
        let result = try daemon.vigil(["vm", "list"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("not connected to libvirt"))
        #expect(daemon.process.isRunning)
    }
}

/// Power actions through vigild on libvirt's test driver: each step and the
/// state it leaves, and the refusals that say what to do instead.
@Suite struct PowerTests {
    func state(_ daemon: DaemonProcess, _ args: [String]) throws -> VMSummary {
        let r = try daemon.vigil(["vm"] + args + ["--json"])
        guard r.status == 0 else { throw TestbedError("vigil vm \(args) failed: \(r.stderr)") }
        return try JSONDecoder().decode(VMSummary.self, from: Data(r.stdout.utf8))
    }

    @Test func lifecycleStepsAndRefusals() throws {
        let dir = try TemporaryDirectory("vd")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir)
        defer { daemon.stop() }

        #expect(try state(daemon, ["pause", "test"]).state == "paused")
        #expect(try state(daemon, ["resume", "test"]).state == "running")

        let unforced = try daemon.vigil(["vm", "poweroff", "test"])
        #expect(unforced.status != 0)
        #expect(unforced.stderr.contains("--force") && unforced.stderr.contains("shutdown"), "\(unforced.stderr)")
        #expect(try state(daemon, ["poweroff", "test", "--force"]).state == "shutoff")

        let reboot = try daemon.vigil(["vm", "reboot", "test"])
        #expect(reboot.status != 0 && reboot.stderr.contains("use start"), "\(reboot.stderr)")
        #expect(try state(daemon, ["start", "test"]).state == "running")

        #expect(try state(daemon, ["hibernate", "test"]).state == "shutoff")
        let start = try daemon.vigil(["vm", "start", "test"])
        #expect(start.status != 0 && start.stderr.contains("wake"), "\(start.stderr)")
        #expect(try state(daemon, ["wake", "test"]).state == "running")

        #expect(try state(daemon, ["shutdown", "test"]).state == "shutoff")
        let resume = try daemon.vigil(["vm", "resume", "test"])
        #expect(resume.status != 0 && resume.stderr.contains("use start"), "\(resume.stderr)")

        #expect(try state(daemon, ["autostart", "test", "on"]).autostart == true)
        #expect(try state(daemon, ["autostart", "test", "off"]).autostart == false)
        let events = try daemon.events(vm: "test").filter { $0.kind == "admin" }.map { $0.action ?? "" }
        #expect(events == ["pause", "resume", "poweroff", "start", "hibernate", "wake", "shutdown"])
    }
}
