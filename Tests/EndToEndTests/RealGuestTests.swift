import Core
import Foundation
import Libvirt
import Testing
import TestSupport

struct VMList: Decodable { let vms: [VMSummary] }

/// Polls `vigil vm list --json` until `vmName` satisfies `predicate`.
func waitForVM(_ daemon: DaemonProcess, _ vmName: String, timeout: TimeInterval = 90,
               _ predicate: (VMSummary) -> Bool) async throws -> VMSummary {
    let deadline = Date().addingTimeInterval(timeout)
    var last: VMSummary?
    while Date() < deadline {
        let r = try daemon.vigil(["vm", "list", "--json"])
        if r.status == 0, let list = try? JSONDecoder().decode(VMList.self, from: Data(r.stdout.utf8)) {
            last = list.vms.first { $0.name == vmName }
            if let last, predicate(last) { return last }
        }
        try await Task.sleep(for: .milliseconds(200))
    }
    throw TestbedError("VM \(vmName) never reached the expected state; last seen: \(String(describing: last))\nvigild log:\n\(daemon.log.suffix(3000))")
}

/// Real QEMU guests (TCG) under the host's real libvirtd, with vigil-agent inside.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct RealGuestTests {
    @Test func guestBootsProtectedAndItsPanicIsReported() async throws {
        let conn = try Connection(uri: "qemu:///system")
        let recorder = EventRecorder(try conn.subscribeDomainEvents())
        let dir = try TemporaryDirectory("ve")
        defer { dir.remove() }
        // Policy ignore: vigild must see the panic and leave the guest as it is.
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir,
                                       extraArguments: ["--default-on-crash", "ignore"])
        let guest = try TestGuest(on: conn)
        defer { guest.remove() }

        try guest.start()
        let started = await recorder.wait(for: EventRecorder.lifecycle(guest.name, .started))
        #expect(started != nil, "no Started event")

        // vigil-agent inside the guest says hello over virtio-serial: protected.
        let vm = try await waitForVM(daemon, guest.name) { $0.agent == .alive }
        #expect(vm.agent.isProtected)
        #expect(vm.agentVersion == VigilVersion.current)
        #expect(vm.state == "running")

        // A kernel panic through sysrq: pvpanic → libvirt Crashed/Panicked.
        try guest.waitForShell()
        try guest.trigger("echo c > /proc/sysrq-trigger")
        let crash = await recorder.wait(for: EventRecorder.lifecycle(guest.name, .crashed))
        let event = try #require(crash?.1, "no Crashed event; console:\n\(guest.console.suffix(2000))")
        guard case .lifecycle(let life) = event.kind else { Issue.record("not lifecycle"); return }
        #expect(life.isPanic, "crash detail was \(life.detailName)")
        #expect(try guest.domain.state().isPanicked)
        #expect(guest.console.contains("sysrq") || guest.console.contains("Kernel panic"))

        // vigild saw it too, and lists the crashed VM.
        let crashed = try await waitForVM(daemon, guest.name, timeout: 10) { $0.state == "crashed" }
        #expect(crashed.stateReason == "panicked")
    }

    @Test func vigildSurvivesLibvirtdRestart() async throws {
        let conn = try Connection(uri: "qemu:///system")
        let dir = try TemporaryDirectory("ve")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "qemu:///system", directory: dir)
        let guest = try TestGuest(on: conn)
        defer { guest.remove() }
        try guest.start()
        _ = try await waitForVM(daemon, guest.name) { $0.agent == .alive }

        try Testbed.run("libvirtd-restart", [], timeout: 120)

        // vigild reconnects by itself, the guest keeps running and stays protected.
        let vm = try await waitForVM(daemon, guest.name, timeout: 60) { $0.agent == .alive && $0.state == "running" }
        #expect(vm.agent.isProtected)
        #expect(daemon.process.isRunning)
        #expect(daemon.log.contains("lost connection to libvirtd"))
        let events = try daemon.vigil(["host", "info", "--json"])
        #expect(events.status == 0)
    }
}
