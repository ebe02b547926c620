import Core
import Foundation
import Synchronization
import Testing
import TestSupport

/// vigild against libvirt's test driver loaded from a node file whose
/// domains have agent channels; this test plays the guests' side of those
/// channels. Real guests are covered in EndToEndTests; this drives edge
/// cases (hostile input, precise timing) no real guest would produce.
@Suite struct FakeGuestTests {
    struct Agents: Decodable { let agents: [AgentStatus] }

    struct Rig {
        let dir: TemporaryDirectory
        let daemon: DaemonProcess
        let channels: [String: FakeChannel]
    }

    static func rig(_ names: [String], arguments: [String] = []) throws -> Rig {
        let dir = try TemporaryDirectory("fg")
        var channels: [String: FakeChannel] = [:]
        var domains: [(String, String, String?)] = []
        for (i, name) in names.enumerated() {
            let ch = try FakeChannel(path: dir.path + "/\(name).sock")
            channels[name] = ch
            domains.append((name, "7f1c0000-0000-4000-8000-00000000000\(i)", ch.path))
        }
        try FakeNode.write(to: dir.path + "/node.xml", domains: domains)
        let daemon = try DaemonProcess(connect: "test://\(dir.path)/node.xml", directory: dir,
                                       extraArguments: ["--default-min-uptime", "0", "--default-heartbeat-interval", "0.2",
                                                        "--default-misses", "3"] + arguments)
        for ch in channels.values { try ch.waitForConnection() }
        return Rig(dir: dir, daemon: daemon, channels: channels)
    }

    static func hello(_ name: String, boot: String = "boot-1") -> [UInt8] {
        AgentCodec.encode(.hello(.init(agentVersion: "9.9.9", os: "FakeOS", kernel: "6.1", bootID: boot,
                                       hostname: name, capabilities: ["heartbeat"])))
    }

    static func beat(_ seq: UInt64) -> [UInt8] { AgentCodec.encode(.heartbeat(.init(seq: seq, uptimeMs: seq &* 200))) }

    /// Heartbeats every 200 ms until cancelled, from a thread of its own: a
    /// task on the shared cooperative pool can be starved for longer than
    /// the 600 ms window by other suites' blocking waits on 2 cores, which
    /// would look to vigild like a hung guest.
    final class Heartbeater: Sendable {
        private let stopped = Atomic<Bool>(false)

        init(_ ch: FakeChannel) {
            let thread = Thread { [self] in
                var seq: UInt64 = 1
                while !stopped.load(ordering: .relaxed) {
                    ch.send(FakeGuestTests.beat(seq))
                    seq += 1
                    usleep(200_000)
                }
            }
            thread.start()
        }

        func cancel() { stopped.store(true, ordering: .relaxed) }
    }

    static func heartbeating(_ ch: FakeChannel) -> Heartbeater { Heartbeater(ch) }

    func status(_ rig: Rig, _ vm: String) throws -> AgentStatus? {
        let r = try rig.daemon.vigil(["agent", "status", vm, "--json"])
        return try? JSONDecoder().decode(Agents.self, from: Data(r.stdout.utf8)).agents.first
    }

    func events(_ rig: Rig, vm: String) throws -> [VigilEvent] {
        let r = try rig.daemon.vigil(["events", "--vm", vm, "--json"])
        return r.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(VigilEvent.self, from: Data($0.utf8)) }
    }

    func waitFor(_ what: String, timeout: TimeInterval = 15, _ check: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try check() { return }
            usleep(100_000)
        }
        throw TestbedError("timed out waiting for \(what)")
    }

    @Test func helloMakesTheGuestProtectedAndWelcomeCarriesTheInterval() throws {
        let rig = try Self.rig(["g1"])
        defer { rig.dir.remove() }
        let ch = try #require(rig.channels["g1"])
        ch.send(Self.hello("g1"))
        let beats = Self.heartbeating(ch)
        defer { beats.cancel() }
        try waitFor("agent alive") { try status(rig, "g1")?.state == .alive }
        let s = try #require(try status(rig, "g1"))
        #expect(s.agentVersion == "9.9.9")
        #expect(s.guestOS == "FakeOS")
        #expect(s.heartbeatIntervalMs == 200)
        try waitFor("welcome") { ch.receivedText.contains("\"heartbeatIntervalMs\":200") }
        #expect(try events(rig, vm: "g1").contains { $0.kind == "agent" && $0.message.contains("connected") })
    }

    @Test func heartbeatLossIsDetectedAndTheVMRestarted() throws {
        let rig = try Self.rig(["hang"])
        defer { rig.dir.remove() }
        let ch = try #require(rig.channels["hang"])
        ch.send(Self.hello("hang"))
        for seq in 1...3 {
            ch.send(Self.beat(UInt64(seq)))
            usleep(150_000)
        }
        // Now silence: the window is 3 × 200 ms.
        try waitFor("recovery") { try events(rig, vm: "hang").contains { $0.kind == "recovery" } }
        let log = try events(rig, vm: "hang")
        let failure = try #require(log.first { $0.kind == "failure" })
        #expect(failure.cause == "heartbeat-loss")
        #expect(failure.action == "restart")
        let recovery = try #require(log.first { $0.kind == "recovery" })
        #expect(recovery.outcome == "succeeded", "\(recovery.message)")
        // Exactly one recovery for one silence.
        usleep(1_500_000)
        #expect(try events(rig, vm: "hang").filter { $0.kind == "recovery" }.count == 1)
    }

    @Test func goodbyeIsNotAFailure() throws {
        let rig = try Self.rig(["bye"])
        defer { rig.dir.remove() }
        let ch = try #require(rig.channels["bye"])
        ch.send(Self.hello("bye"))
        ch.send(Self.beat(1))
        try waitFor("alive") { try status(rig, "bye")?.state == .alive }
        ch.send(AgentCodec.encode(.goodbye(.init(reason: "agent stopped"))))
        try waitFor("departed") { try status(rig, "bye")?.state == .departed }
        usleep(1_500_000)
        let log = try events(rig, vm: "bye")
        #expect(!log.contains { $0.kind == "failure" || $0.kind == "recovery" })
        #expect(log.contains { $0.message.contains("agent stopped cleanly") })
    }

    @Test func hostileGuestCannotDisturbItsNeighbour() throws {
        let rig = try Self.rig(["good", "evil"])
        defer { rig.dir.remove() }
        let good = try #require(rig.channels["good"]), evil = try #require(rig.channels["evil"])
        good.send(Self.hello("good", boot: "good-boot"))
        let beats = Self.heartbeating(good)
        defer { beats.cancel() }
        try waitFor("good alive") { try status(rig, "good")?.state == .alive }

        var rng = SystemRandomNumberGenerator()
        let attacks: [(String, () -> Void)] = [
            ("garbage", { evil.send((0..<1_000_000).map { _ in UInt8.random(in: 0...255, using: &rng) }) }),
            ("a 1 GiB line", {
                let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20)
                for _ in 0..<1024 { evil.send(chunk) }
                evil.send("\n")
            }),
            ("impersonation", {
                evil.send(Self.hello("good", boot: "good-boot"))
                evil.send(Self.beat(UInt64.max))
            }),
            ("a flood", { for i in 0..<20_000 { evil.send(Self.beat(UInt64(i))) } }),
            ("replayed heartbeats", { for _ in 0..<10 { evil.send(Self.beat(1)) } }),
            ("fake crash reports", {
                for _ in 0..<50 {
                    evil.send(AgentCodec.encode(.crashReport(.init(source: "pstore", excerpt: String(repeating: "x", count: 60_000)))))
                }
            }),
            ("host-only messages", { evil.send(AgentCodec.encode(.welcome(.init(heartbeatIntervalMs: 1)))) }),
        ]
        for (name, attack) in attacks {
            attack()
            // The neighbour keeps heartbeating through every attack.
            let s = try status(rig, "good")
            #expect(s?.state == .alive, "good guest not alive after \(name)")
            #expect((s?.lastHeartbeatAgeMs ?? .max) < 600, "good guest's heartbeats stalled after \(name)")
        }
        #expect(rig.daemon.process.isRunning)
        // The impersonation touched only the attacker's own record.
        #expect(try status(rig, "good")?.bootID == "good-boot")
        let evilLog = try events(rig, vm: "evil")
        #expect(evilLog.contains { $0.message.contains("hostile or corrupt input") })
        #expect(evilLog.filter { $0.message.contains("earlier crash") }.count <= 1)
        #expect(evilLog.allSatisfy { $0.message.count < 2300 })
        #expect(!(try events(rig, vm: "good")).contains { $0.kind == "failure" || $0.message.contains("hostile") })
    }
}
