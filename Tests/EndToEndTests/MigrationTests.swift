import Core
import Foundation
import Libvirt
import Testing
import TestSupport

/// `vigil vm migrate` between two simulated hosts (`testbed/cluster`) with
/// real guests on shared storage, a vigild inside each host.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct MigrationTests {
    static let host1 = ClusterRig.uri(1)
    static let host2 = ClusterRig.uri(2)
    static let fast = ["--default-heartbeat-interval", "0.5", "--default-misses", "4", "--default-min-uptime", "0"]

    struct Rig {
        let shared: String
        let dirs: [TemporaryDirectory]
        let vigild1: DaemonProcess
        let vigild2: DaemonProcess
        let source: Connection
        let destination: Connection

        func remove() {
            vigild1.stop()
            vigild2.stop()
            dirs.forEach { $0.remove() }
        }
    }

    static func rig() throws -> Rig {
        let shared = try ClusterRig.up(2)
        let dir1 = try TemporaryDirectory("vm1"), dir2 = try TemporaryDirectory("vm2")
        let vigild1 = try DaemonProcess(connect: "qemu:///system", directory: dir1,
                                        extraArguments: fast + ["--shared-storage", shared, "--peer", host2],
                                        namespaceCommand: ClusterRig.inside(1))
        let vigild2 = try DaemonProcess(connect: "qemu:///system", directory: dir2,
                                        extraArguments: fast + ["--shared-storage", shared], namespaceCommand: ClusterRig.inside(2))
        return Rig(shared: shared, dirs: [dir1, dir2], vigild1: vigild1, vigild2: vigild2,
                   source: try Connection(uri: host1), destination: try Connection(uri: host2))
    }

    /// A guest whose root shell is on a socket under each host's own /run:
    /// the same path on both hosts, so a live migration can bind it again.
    static func guest(_ rig: Rig, extra: [String] = []) throws -> (TestGuest, String) {
        let name = "vm-\(UUID().uuidString.prefix(6).lowercased())"
        let socket = "/run/vigil-test/\(name).sock"
        for host in [1, 2] { _ = try ClusterRig.run(["exec", "\(host)", "mkdir", "-p", "/run/vigil-test"]) }
        let guest = try TestGuest(on: rig.source, name: name, diskDirectory: rig.shared, controlSocket: false,
                                  extraArguments: ["--control-socket", socket] + extra)
        return (guest, socket)
    }

    static func shell(_ host: Int, _ socket: String, _ command: String) throws -> CommandResult {
        try ProcessRunner.run(ClusterRig.inside(host) + [Testbed.script("guest-run"), socket, command],
                              environment: ["GUEST_RUN_TIMEOUT": "30"], timeout: 60)
    }

    /// Starts the guest on host 1 and waits for its agent there; its boot id.
    static func startProtected(_ guest: TestGuest, _ rig: Rig) async throws -> String {
        try guest.start()
        try await rig.vigild1.waitUntil("agent alive on host 1") { try rig.vigild1.agentStatus(guest.name)?.state == .alive }
        return try #require(try rig.vigild1.agentStatus(guest.name)?.bootID)
    }

    static func cleanUp(_ guest: TestGuest, _ rig: Rig) {
        if let moved = try? rig.destination.domain(named: guest.name) {
            try? moved.destroy()
            try? moved.undefine()
        }
        guest.remove()
    }

    func history(_ daemon: DaemonProcess, _ vm: String) throws -> [MigrationRecord] {
        let r = try daemon.vigil(["vm", "migrations", vm, "--json"])
        return try JSONDecoder().decode(MigrationHistory.self, from: Data(r.stdout.utf8)).migrations
    }

    /// Waits until the VM's newest migration has ended, and returns it.
    func settled(_ daemon: DaemonProcess, _ vm: String, timeout: TimeInterval = 90) async throws -> MigrationRecord {
        try await daemon.waitUntil("the migration of \(vm) ended", timeout: timeout) {
            try history(daemon, vm).first.map { $0.result != "running" } ?? false
        }
        return try #require(try history(daemon, vm).first)
    }

    /// Neither vigild logged a failure or a recovery for the VM (checked
    /// 2 s after the move, so a late false alarm would show).
    static func noFailureLogged(_ daemons: [DaemonProcess], _ vm: String) async throws {
        try await Task.sleep(for: .seconds(2))
        for d in daemons {
            #expect(!(try d.events(vm: vm)).contains { $0.kind == "failure" || $0.kind == "recovery" }, "no failure during the switch-over")
        }
    }

    @Test func liveMigrationKeepsTheGuestItsDataAndItsProtection() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, socket) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        let boot = try await Self.startProtected(guest, rig)
        let wrote = try Self.shell(1, socket, "echo before-move > /data/moved.txt && sync && cat /data/moved.txt")
        #expect(wrote.stdout.contains("before-move"), "\(wrote.stdout) \(wrote.stderr)")

        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--compress", "xbzrle", "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
        #expect(op.state == .succeeded, "\(op.error ?? "")")

        let moved = try rig.destination.domain(named: guest.name)
        #expect(try moved.state().state == .running)
        #expect(try moved.isPersistent)
        #expect(throws: LibvirtError.self) { try rig.source.domain(named: guest.name) }
        // The same boot, the same data, and the agent heartbeating to host 2's vigild.
        let read = try Self.shell(2, socket, "cat /data/moved.txt")
        #expect(read.stdout.contains("before-move"), "\(read.stdout) \(read.stderr)")
        try await rig.vigild2.waitUntil("agent alive on host 2") { try rig.vigild2.agentStatus(guest.name)?.state == .alive }
        #expect(try rig.vigild2.agentStatus(guest.name)?.bootID == boot, "a live move does not reboot the guest")

        let h = try #require(try history(rig.vigild1, guest.name).first)
        #expect(h.result == "succeeded" && h.kind == "live" && h.destination == Self.host2)
        #expect(h.options.contains("compress xbzrle"))
        #expect((h.totalMs ?? 0) > 0 && h.downtimeMs != nil && (h.dataBytes ?? 0) > 0 && (h.iterations ?? 0) >= 1, "\(h)")
        #expect(h.compressedBytes != nil, "xbzrle's figures are in the history")
        try await Self.noFailureLogged([rig.vigild1, rig.vigild2], guest.name)
        #expect(try rig.vigild1.events(vm: guest.name).contains { $0.kind == "migration" && $0.outcome == "succeeded" })
    }

    /// A guest that dirties memory faster than a 4 MiB/s link with a 1 ms
    /// downtime allows never converges: at the timeout the source is paused,
    /// the migration completes and the guest runs on, on host 2. Back with
    /// post-copy at the timeout instead: it completes without a pause, the
    /// same boot.
    @Test func timeoutPausesTheSourceSoTheMigrationCompletes() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, socket) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        let boot = try await Self.startProtected(guest, rig)
        _ = try Self.shell(1, socket, "(while true; do dd if=/dev/urandom of=/tmp/dirty bs=1M count=16 2>/dev/null; done) >/dev/null 2>&1 &")
        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--timeout", "3",
                                       "--bandwidth", "4", "--max-downtime", "1", "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        var op = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
        if op.state == .running {
            let w = try rig.vigild1.vigil(["op", "show", op.id, "--wait", "--json"])
            op = try JSONDecoder().decode(OperationInfo.self, from: Data(w.stdout.utf8))
        }
        #expect(op.state == .succeeded, "\(op.error ?? "")")
        let moved = try rig.destination.domain(named: guest.name)
        #expect(try moved.state().state == .running, "resumed on the destination")
        let h = try #require(try history(rig.vigild1, guest.name).first)
        #expect(h.pausedByTimeout && h.result == "succeeded", "\(h)")
        try await rig.vigild2.waitUntil("agent alive on host 2") { try rig.vigild2.agentStatus(guest.name)?.state == .alive }

        // Back, still dirtying: post-copy after 2 s, with auto-converge throttling it first.
        let back = try rig.vigild2.vigil(["vm", "migrate", guest.name, "--to", Self.host1, "--postcopy", "--timeout", "2",
                                          "--bandwidth", "4", "--auto-converge", "--json"])
        #expect(back.status == 0, "\(back.stdout) \(back.stderr)")
        let hb = try #require(try history(rig.vigild2, guest.name).first)
        #expect(hb.result == "succeeded" && hb.options.contains("post-copy") && hb.options.contains("auto-converge"), "\(hb)")
        #expect(!hb.pausedByTimeout, "post-copy switched over instead of pausing")
        #expect(try guest.domain.state().state == .running)
        #expect(throws: LibvirtError.self) { try rig.destination.domain(named: guest.name) }
        try await rig.vigild1.waitUntil("agent alive on host 1 again") {
            let s = try rig.vigild1.agentStatus(guest.name)
            return s?.state == .alive && s?.bootID == boot
        }
    }

    /// A shut-off VM's definition moves; every reason a destination cannot
    /// take a VM is refused up front, and nothing moves.
    @Test func offlineMoveAndTheRefusals() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        // Disks not on shared storage, a network the destination lacks, an unreachable host.
        let local = try TestGuest(on: rig.source, controlSocket: false, extraArguments: [])
        defer { local.remove() }
        let refused = try rig.vigild1.vigil(["vm", "migrate", local.name, "--to", Self.host2])
        #expect(refused.status != 0 && refused.stderr.contains("not on storage both hosts see") && refused.stderr.contains(local.diskPath),
                "\(refused.stderr)")
        let unreachable = try rig.vigild1.vigil(["vm", "migrate", local.name, "--to", "qemu+tcp://\(ClusterRig.net).99/system"])
        #expect(unreachable.status != 0 && unreachable.stderr.contains("cannot reach the destination"), "\(unreachable.stderr)")
        let badOptions = try rig.vigild1.vigil(["vm", "migrate", local.name, "--to", Self.host2, "--offline", "--compress", "zlib"])
        #expect(badOptions.status != 0 && badOptions.stderr.contains("xbzrle or mt") && badOptions.stderr.contains("for live migrations"),
                "\(badOptions.stderr)")

        let (guest, _) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        var xml = try guest.domain.xml([.inactive])
        xml = xml.replacingOccurrences(of: "</devices>", with: "<interface type='network'><source network='vigil-no-such-net'/></interface></devices>")
        _ = try rig.source.define(xml: xml)
        let noNet = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2])
        #expect(noNet.status != 0 && noNet.stderr.contains("has no libvirt network 'vigil-no-such-net'"), "\(noNet.stderr)")
        // A CPU model the destination's hypervisor (TCG here) cannot give.
        let plain = xml.replacingOccurrences(of: "<interface type='network'><source network='vigil-no-such-net'/></interface>", with: "")
        let cpu = "<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>qemu64</model>"
            + "<feature policy='require' name='avx512f'/></cpu>"
        // libvirt gave the TCG guest a default <cpu> (qemu64) when it was defined: this one replaces it.
        let withCPU = plain.replacingOccurrences(of: "<cpu[^>]*/>|<cpu[\\s\\S]*?</cpu>", with: "", options: .regularExpression)
            .replacingOccurrences(of: "<devices>", with: cpu + "<devices>")
        _ = try rig.source.define(xml: withCPU)
        #expect(try guest.domain.xml([.inactive]).contains("avx512f"), "the CPU model was defined")
        let noCPU = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2])
        #expect(noCPU.status != 0 && noCPU.stderr.contains("CPU cannot run the VM's CPU model"), "\(noCPU.stderr)")
        _ = try rig.source.define(xml: plain)
        #expect(try rig.destination.domains().allSatisfy { $0.name != guest.name }, "nothing moved")

        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let moved = try rig.destination.domain(named: guest.name)
        #expect(try moved.isPersistent && !(try moved.isActive))
        #expect(throws: LibvirtError.self) { try rig.source.domain(named: guest.name) }
        let h = try #require(try history(rig.vigild1, guest.name).first)
        #expect(h.kind == "offline" && h.result == "succeeded")
        // It starts on host 2 from the shared disk.
        try moved.create()
        try await rig.vigild2.waitUntil("agent alive on host 2") { try rig.vigild2.agentStatus(guest.name)?.state == .alive }
    }

    /// A running VM bigger than the memory the destination has available
    /// (free plus page cache) is refused before anything moves. Started
    /// paused: QEMU maps the guest's RAM lazily, so even a VM the size of
    /// the host costs nothing here.
    @Test func liveMigrationRefusedWithoutMemoryThere() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let available = try rig.destination.availableMemory
        #expect(available >= (try rig.destination.freeMemory), "available counts the page cache as well as free memory")
        // The kernel's MemTotal: nodeInfo sums NUMA nodes, smaller than that on some virtual machines.
        let total = try rig.destination.totalMemory
        #expect(available <= total)
        // Nearly the whole host: more than is available while anything runs
        // there, yet within what Linux's default overcommit lets QEMU map.
        let needMiB = total / 1_048_576 - 64
        try #require(available < needMiB * 1_048_576, "\(available >> 20) MiB available of \(total >> 20) MiB")
        let (guest, _) = try Self.guest(rig, extra: ["--memory", "\(needMiB)"])
        defer { Self.cleanUp(guest, rig) }
        try guest.domain.createPaused()
        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2])
        #expect(r.status != 0 && r.stderr.contains("MiB of memory available, the VM needs \(needMiB) MiB"), "\(r.stderr)")
        #expect(try rig.destination.domains().allSatisfy { $0.name != guest.name }, "nothing moved")
        #expect(try guest.domain.isActive)
    }

    /// Disks on storage only the source uses move with the VM: live over
    /// NBD into images made on the destination first, then back offline,
    /// uploaded through the other host's libvirtd. The guest keeps its boot
    /// and its data; the images left behind are removed.
    @Test func hostAndStorageTogetherLiveThenOffline() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let here = try TemporaryDirectory("vsa"), there = try TemporaryDirectory("vsb"), back = try TemporaryDirectory("vsc")
        defer { [here, there, back].forEach { $0.remove() } }
        let name = "vm-\(UUID().uuidString.prefix(6).lowercased())"
        let socket = "/run/vigil-test/\(name).sock"
        for host in [1, 2] { _ = try ClusterRig.run(["exec", "\(host)", "mkdir", "-p", "/run/vigil-test"]) }
        let guest = try TestGuest(on: rig.source, name: name, diskDirectory: here.path, controlSocket: false,
                                  extraArguments: ["--control-socket", socket])
        defer {
            for c in [rig.source, rig.destination] {
                if let d = try? c.domain(named: name) { try? d.destroy(); try? d.undefine([.managedSave, .snapshotsMetadata, .checkpointsMetadata]) }
            }
            guest.remove()
        }
        try guest.start()
        try await rig.vigild1.waitUntil("agent alive on host 1") { try rig.vigild1.agentStatus(name)?.state == .alive }
        let boot = try #require(try rig.vigild1.agentStatus(name)?.bootID)
        #expect(try Self.shell(1, socket, "echo with-its-disk > /data/s.txt && sync").status == 0)

        let missing = try rig.vigild1.vigil(["vm", "migrate", name, "--to", Self.host2, "--storage-dir", there.path + "/nope"])
        #expect(missing.status != 0 && missing.stderr.contains("cannot use directory"), "\(missing.stderr)")

        let r = try rig.vigild1.vigil(["vm", "migrate", name, "--to", Self.host2, "--storage-dir", there.path, "--json"])
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
        #expect(op.state == .succeeded, "\(op.error ?? r.stderr)")
        let moved = try rig.destination.domain(named: name)
        #expect(try moved.state().state == .running && moved.isPersistent)
        let disk = try DomainDefinitionProbe.diskPath(try moved.xml())
        let persistentDisk = try DomainDefinitionProbe.diskPath(try moved.xml([.inactive]))
        #expect(disk.hasPrefix(there.path + "/") && persistentDisk == disk, "\(disk) \(persistentDisk)")
        #expect(!FileManager.default.fileExists(atPath: guest.diskPath), "the source's image is removed")
        #expect(try Self.shell(2, socket, "cat /data/s.txt").stdout.contains("with-its-disk"))
        try await rig.vigild2.waitUntil("agent alive on host 2") { try rig.vigild2.agentStatus(name)?.state == .alive }
        #expect(try rig.vigild2.agentStatus(name)?.bootID == boot, "a live move does not reboot the guest")
        #expect(try history(rig.vigild1, name).first?.options.contains("storage to \(there.path)") == true)

        // Back, offline: the shut-off VM's disk uploaded to host 1, defined there, gone from host 2.
        try moved.destroy(graceful: true)
        let b = try rig.vigild2.vigil(["vm", "migrate", name, "--to", Self.host1, "--offline", "--storage-dir", back.path, "--json"])
        let bop = try JSONDecoder().decode(OperationInfo.self, from: Data(b.stdout.utf8))
        #expect(bop.state == .succeeded, "\(bop.error ?? b.stderr)")
        #expect(throws: LibvirtError.self) { try rig.destination.domain(named: name) }
        let home = try rig.source.domain(named: name)
        let homeDisk = try DomainDefinitionProbe.diskPath(try home.xml([.inactive]))
        #expect(homeDisk.hasPrefix(back.path + "/"), "\(homeDisk)")
        #expect(!FileManager.default.fileExists(atPath: disk), "host 2's image is removed")
        #expect(try ProcessRunner.run(["qemu-img", "check", homeDisk]).status == 0)
        try home.create()
        try await rig.vigild1.waitUntil("agent alive on host 1 again", timeout: 120) {
            let a = try rig.vigild1.agentStatus(name)
            return a?.isAlive(onANewBootFrom: boot) == true
        }
        #expect(try Self.shell(1, socket, "cat /data/s.txt").stdout.contains("with-its-disk"))
    }

    /// Maintenance on: every running VM goes to the peer, live, and the
    /// host starts none until maintenance is off again.
    @Test func maintenanceModeEmptiesTheHostAndRefusesStarts() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, _) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        let (idle, _) = try Self.guest(rig)
        defer { Self.cleanUp(idle, rig) }
        _ = try await Self.startProtected(guest, rig)

        let on = try rig.vigild1.vigil(["host", "maintenance", "on", "--json"])
        #expect(on.status == 0, "\(on.stdout) \(on.stderr)")
        var op = try JSONDecoder().decode(OperationInfo.self, from: Data(on.stdout.utf8))
        if op.state == .running {
            op = try JSONDecoder().decode(OperationInfo.self, from: Data(try rig.vigild1.vigil(["op", "show", op.id, "--wait", "--json"]).stdout.utf8))
        }
        #expect(op.state == .succeeded, "\(op.error ?? "")")
        #expect(try rig.destination.domain(named: guest.name).state().state == .running)
        #expect(try rig.source.domains([.active]).isEmpty, "nothing runs on the host in maintenance")
        #expect(try rig.vigild1.vigil(["host", "maintenance"]).stdout.contains("on"))
        let start = try rig.vigild1.vigil(["vm", "start", idle.name])
        #expect(start.status != 0 && start.stderr.contains("maintenance"), "\(start.stderr)")
        try await rig.vigild2.waitUntil("agent alive on host 2") { try rig.vigild2.agentStatus(guest.name)?.state == .alive }

        let off = try rig.vigild1.vigil(["host", "maintenance", "off"])
        #expect(off.status == 0, "\(off.stderr)")
        #expect(try rig.vigild1.vigil(["host", "maintenance"]).stdout.contains("off"))
        let again = try rig.vigild1.vigil(["vm", "start", idle.name])
        #expect(again.status == 0, "\(again.stderr)")
    }

    /// vigild killed on the source in the middle of a slow live migration,
    /// then restarted: the journal settles it, and the VM runs on exactly one
    /// host and is defined on exactly one, its history saying what happened.
    /// The destination's vigild killed too changes nothing for libvirt.
    @Test func vigildKilledMidMigrationLeavesTheVMOnOneHost() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, _) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        _ = try await Self.startProtected(guest, rig)
        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--bandwidth", "1", "--no-wait", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        try await rig.vigild1.waitUntil("migration job running") { try guest.domain.jobProgress().kind != Domain.JobKind.none }
        rig.vigild1.kill()
        rig.vigild2.kill()
        let again = try DaemonProcess(connect: "qemu:///system", directory: rig.dirs[0],
                                      extraArguments: Self.fast + ["--shared-storage", rig.shared], namespaceCommand: ClusterRig.inside(1))
        defer { again.stop() }
        #expect(try await settled(again, guest.name).result == "interrupted")
        try await again.waitUntil("no migration job left", timeout: 60) {
            ((try? guest.domain.jobProgress().kind) ?? Domain.JobKind.none) == Domain.JobKind.none
        }
        let uuid = guest.domain.uuid
        try await again.waitUntil("the VM runs on exactly one host, defined there", timeout: 60) {
            let running = [rig.source, rig.destination].filter { c in (try? c.domain(uuid: uuid).isActive) == true }
            let defined = [rig.source, rig.destination].filter { c in (try? c.domain(uuid: uuid).isPersistent) == true }
            return running.count == 1 && defined.count == 1 && defined.first === running.first
        }
    }

    /// vigild on the destination killed while a migration runs (the source's
    /// libvirtd drives it, the source's vigild watches it) and started
    /// again: the move completes, the VM runs once, defined once, and the
    /// restarted vigild takes over its protection with no failure logged.
    @Test func destinationVigildKilledMidMigrationTakesTheVMOverWhenBack() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, _) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        let boot = try await Self.startProtected(guest, rig)
        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--bandwidth", "4", "--no-wait", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        try await rig.vigild1.waitUntil("migration job running") { try guest.domain.jobProgress().kind != Domain.JobKind.none }
        rig.vigild2.kill()
        let again = try DaemonProcess(connect: "qemu:///system", directory: rig.dirs[1],
                                      extraArguments: Self.fast + ["--shared-storage", rig.shared], namespaceCommand: ClusterRig.inside(2))
        defer { again.stop() }
        let h = try await settled(rig.vigild1, guest.name, timeout: 180)
        #expect(h.result == "succeeded", "\(h)")
        let uuid = guest.domain.uuid
        #expect(try rig.destination.domain(uuid: uuid).isActive && (try rig.destination.domain(uuid: uuid).isPersistent))
        #expect(throws: LibvirtError.self) { try rig.source.domain(uuid: uuid) }
        try await again.waitUntil("agent alive on host 2") { try again.agentStatus(guest.name)?.state == .alive }
        #expect(try again.agentStatus(guest.name)?.bootID == boot, "the same boot: the move was live")
        try await Self.noFailureLogged([rig.vigild1, again], guest.name)
    }

    /// Crash policy migrate on a guest whose agent falls silent while its
    /// domain still runs: vigild moves it live (the same boot, nothing
    /// lost), not cold. Woken on host 2, the agent heartbeats to vigild there.
    @Test func silentGuestUnderMigratePolicyMovesLive() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, socket) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        let boot = try await Self.startProtected(guest, rig)
        let set = try rig.vigild1.vigil(["policy", "set", guest.name, "--on-crash", "migrate"])
        #expect(set.status == 0, "\(set.stderr)")
        let stop = try Self.shell(1, socket, "kill -STOP $(pidof vigil-agent) && echo frozen")
        #expect(stop.stdout.contains("frozen"), "\(stop.stdout) \(stop.stderr)")
        try await rig.vigild1.waitUntil("recovery on host 1", timeout: 120) {
            try rig.vigild1.events(vm: guest.name).contains { $0.kind == "recovery" }
        }
        let recovery = try #require(try rig.vigild1.events(vm: guest.name).first { $0.kind == "recovery" })
        #expect(recovery.outcome == "succeeded" && recovery.message.contains("live-migrated to \(Self.host2)"), "\(recovery.message)")
        let moved = try rig.destination.domain(named: guest.name)
        #expect(try moved.state().state == .running && moved.isPersistent)
        #expect(throws: LibvirtError.self) { try rig.source.domain(named: guest.name) }
        let woke = try Self.shell(2, socket, "kill -CONT $(pidof vigil-agent) && cat /proc/sys/kernel/random/boot_id")
        #expect(woke.status == 0, "\(woke.stdout) \(woke.stderr)")
        try await rig.vigild2.waitUntil("agent alive on host 2") { try rig.vigild2.agentStatus(guest.name)?.state == .alive }
        #expect(try rig.vigild2.agentStatus(guest.name)?.bootID == boot, "moved live: not rebooted")
    }

    /// Post-copy as an explicit choice: at the timeout the guest switches to
    /// host 2 while its remaining pages follow at the capped rate. Then the
    /// link breaks (the migration stream's TCP connection is reset): the
    /// guest's memory is split between the hosts and QEMU 7.2 cannot resume
    /// it, so vigild powers off both halves and boots the VM again on host 1
    /// from its disks: it runs once, defined once, with what it had synced,
    /// and the history says why.
    @Test func postcopyLinkLostMidwayRestartsTheGuestOnTheSource() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, socket) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        let boot = try await Self.startProtected(guest, rig)
        #expect(try Self.shell(1, socket, "echo before-postcopy > /data/pc.txt && sync").status == 0)
        _ = try Self.shell(1, socket, "(while true; do dd if=/dev/urandom of=/tmp/dirty bs=1M count=16 2>/dev/null; done) >/dev/null 2>&1 &")
        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--postcopy", "--timeout", "3",
                                       "--bandwidth", "4", "--no-wait", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        try await rig.vigild1.waitUntil("in post-copy", timeout: 60) { try guest.domain.state().reasonName == "post-copy" }
        try await Task.sleep(for: .seconds(1))
        // Reset the migration stream (source QEMU to host 2's migration ports).
        let cut = try ProcessRunner.run(["ss", "-K", "-t", "dst", ClusterRig.address(2),
                                         "( dport >= :49152 and dport <= :49215 )"])
        #expect(cut.status == 0 && cut.stdout.contains(ClusterRig.address(2)), "a migration connection was reset: \(cut.stdout) \(cut.stderr)")
        let h = try await settled(rig.vigild1, guest.name, timeout: 120)
        #expect(h.result == "failed" && h.options.contains("post-copy"), "\(h)")
        #expect(h.error?.contains("lost its link") == true && h.error?.contains("started again here from its disks") == true,
                "\(h.error ?? "no error")")
        let uuid = guest.domain.uuid
        #expect(try guest.domain.isActive && guest.domain.isPersistent, "running and defined on host 1")
        #expect(throws: LibvirtError.self) { try rig.destination.domain(uuid: uuid) }
        try await rig.vigild1.waitUntil("agent alive on host 1 again") {
            let s = try rig.vigild1.agentStatus(guest.name)
            return s?.isAlive(onANewBootFrom: boot) == true
        }
        let read = try Self.shell(1, socket, "cat /data/pc.txt")
        #expect(read.stdout.contains("before-postcopy"), "what was synced survives: \(read.stdout) \(read.stderr)")
    }

    /// Cut short twice: cancelled by the administrator, then with the
    /// destination host lost (power off: its libvirtd, vigild and QEMU
    /// killed). Each time the guest runs on, on host 1, defined there
    /// only, with the same boot, and the history says what happened.
    @Test func cancelledOrDestinationLostTheVMStaysOnTheSource() async throws {
        let rig = try Self.rig()
        defer { rig.remove() }
        let (guest, _) = try Self.guest(rig)
        defer { Self.cleanUp(guest, rig) }
        let boot = try await Self.startProtected(guest, rig)
        let uuid = guest.domain.uuid
        func stayedHere() throws {
            #expect(try guest.domain.state().state == .running && guest.domain.isPersistent)
            #expect((try? rig.destination.domain(uuid: uuid)) == nil, "nothing left on host 2")
        }

        let r = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--bandwidth", "1", "--no-wait", "--json"])
        let op = try JSONDecoder().decode(OperationInfo.self, from: Data(r.stdout.utf8))
        try await rig.vigild1.waitUntil("migration job running") { try guest.domain.jobProgress().kind != Domain.JobKind.none }
        let cancel = try rig.vigild1.vigil(["op", "cancel", op.id])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        try await rig.vigild1.waitUntil("cancelled in the history") { try history(rig.vigild1, guest.name).first?.result == "cancelled" }
        try await rig.vigild1.waitUntil("no job left") {
            ((try? guest.domain.jobProgress().kind) ?? Domain.JobKind.none) == Domain.JobKind.none
        }
        try stayedHere()

        _ = try rig.vigild1.vigil(["vm", "migrate", guest.name, "--to", Self.host2, "--bandwidth", "1", "--no-wait", "--json"])
        try await rig.vigild1.waitUntil("second migration running") { try guest.domain.jobProgress().kind != Domain.JobKind.none }
        _ = try ClusterRig.run(["kill", "2"])
        try await rig.vigild1.waitUntil("failed in the history", timeout: 120) {
            try history(rig.vigild1, guest.name).first?.result == "failed"
        }
        #expect(try guest.domain.state().state == .running && guest.domain.isPersistent)
        let h = try #require(try history(rig.vigild1, guest.name).first)
        #expect(h.error?.isEmpty == false, "\(h)")
        try await rig.vigild1.waitUntil("agent alive on host 1, the same boot") {
            let s = try rig.vigild1.agentStatus(guest.name)
            return s?.state == .alive && s?.bootID == boot
        }
        #expect(!(try rig.vigild1.events(vm: guest.name)).contains { $0.kind == "failure" || $0.kind == "recovery" },
                "no false failure while it was migrating")
    }
}
