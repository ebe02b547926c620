import Core
import Crypto
import Foundation
@testable import HostMonitor
import Testing
import TestSupport

/// The pure parts of backups: which backup a new one builds on (and why it
/// falls back to a full), what retention may remove without breaking a
/// chain, which checkpoints stay, what a policy is due for over a clock,
/// per-chunk checksums and the damage verify reports, destinations.
@Suite struct BackupLogicTests {
    static func backup(_ id: String, _ level: BackupLevel, on parent: String? = nil, base: String? = nil, at t: Double) -> BackupInfo {
        BackupInfo(id: id, vm: "web", vmUUID: "u", level: level, parent: parent, base: base ?? parent ?? id, created: t,
                   disks: [], consistency: "quiesced", note: nil, compressed: false, vmWasShutOff: false, destination: "/b", policy: nil)
    }

    let f1 = backup("f1", .full, at: 1)
    let i1 = backup("i1", .incremental, on: "f1", base: "f1", at: 2)
    let d1 = backup("d1", .differential, on: "f1", base: "f1", at: 3)
    let i2 = backup("i2", .incremental, on: "d1", base: "f1", at: 4)
    let f2 = backup("f2", .full, at: 5)
    let i3 = backup("i3", .incremental, on: "f2", base: "f2", at: 6)

    @Test func aNewBackupBuildsOnTheRightOneOrSaysWhyItIsAFull() {
        let none = BackupChain([])
        #expect(none.decide(.full) { _ in true } == .full(reason: nil))
        guard case .full(let why?) = none.decide(.auto, hasCheckpoint: { _ in true }) else { Issue.record("no chain: a full"); return }
        #expect(why.contains("no earlier backup"))

        let chain = BackupChain([i2, f1, d1, i1])  // any order in, oldest first out
        #expect(chain.backups.map(\.id) == ["f1", "i1", "d1", "i2"])
        #expect(chain.decide(.incremental) { _ in true } == .build(level: .incremental, parent: i2))
        #expect(chain.decide(.auto) { _ in true } == .build(level: .incremental, parent: i2), "auto is an incremental when it can be")
        #expect(chain.decide(.differential) { _ in true } == .build(level: .differential, parent: f1), "differential: since the last full")
        guard case .full(let gone?) = chain.decide(.incremental, hasCheckpoint: { $0.id != "i2" }) else {
            Issue.record("the parent's checkpoint is gone: a full"); return
        }
        #expect(gone.contains("i2") && gone.contains("checkpoint"))

        // A chain with a hole (its differential was removed by hand on the server).
        let broken = BackupChain([f1, i1, i2])
        guard case .full(let hole?) = broken.decide(.incremental, hasCheckpoint: { _ in true }) else {
            Issue.record("incomplete chain: a full"); return
        }
        #expect(hole.contains("incomplete"))
        #expect(broken.lineage("i2") == nil)
        #expect(chain.lineage("i2")?.map(\.id) == ["i2", "d1", "f1"])
        guard case .full = BackupChain([i1]).decide(.differential, hasCheckpoint: { _ in true }) else {
            Issue.record("no full to differ from"); return
        }
    }

    @Test func retentionNeverRemovesWhatAKeptBackupNeeds() {
        let chain = BackupChain([f1, i1, d1, i2, f2, i3])
        #expect(chain.expired(keep: 2).map(\.id) == ["i2", "d1", "i1", "f1"], "keep f2 and i3; the old chain goes, children first")
        #expect(chain.expired(keep: 3).map(\.id) == ["i1"], "i2 → d1 → f1 stay with i2; only i1 goes")
        #expect(chain.expired(keep: 1).map(\.id) == ["i2", "d1", "i1", "f1"], "i3 needs f2")
        #expect(chain.expired(keep: 100).isEmpty)
        // Exhaustively: whatever is kept, every kept backup's lineage is whole afterwards.
        let all = chain.backups
        for keep in 0...all.count {
            let gone = Set(chain.expired(keep: keep).map(\.id))
            let left = BackupChain(all.filter { !gone.contains($0.id) })
            for b in all.suffix(keep) { #expect(left.lineage(b.id) != nil, "keep \(keep): \(b.id) lost its chain") }
            #expect(all.count - gone.count >= min(keep, all.count))
        }
    }

    @Test func onlyTheCheckpointsANextBackupCanUseStay() {
        #expect(BackupChain([f1, i1, d1, i2]).usefulCheckpoints == ["i2", "f1"])
        #expect(BackupChain([f1, i1, d1, i2, f2]).usefulCheckpoints == ["f2"])
        #expect(BackupChain([]).usefulCheckpoints.isEmpty)
    }

    var utc: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }

    @Test func policiesRunFullsIncrementalsAndVerifiesOverAClock() throws {
        let t0 = ISO8601DateFormatter().date(from: "2026-12-06T00:30:00Z")!  // a Sunday
        var p = BackupPolicy(name: "nightly", vms: ["web"], schedule: try Schedule(parsing: "daily 01:00"),
                             fullSchedule: try Schedule(parsing: "weekly sun 01:00"), verifySchedule: try Schedule(parsing: "daily 03:00"))
        // Set at t0, as the service records it: each time of day counts from then.
        p.lastRun = p.schedule.firstAnchor(now: t0)
        p.lastFull = p.fullSchedule?.firstAnchor(now: t0)
        p.lastVerify = p.verifySchedule?.firstAnchor(now: t0)
        var unanchored = p
        unanchored.lastRun = nil
        #expect(BackupPolicyPlan.due([unanchored], now: t0.addingTimeInterval(3600), calendar: utc).work.contains(.backup(policy: "nightly", level: .full)),
                "the full schedule, anchored, is due at 01:00")
        var now = t0, ran: [BackupPolicyPlan.Work] = []
        // A simulated week, looking every 10 minutes as the scheduler would when woken.
        while now < t0.addingTimeInterval(7 * 86_400 + 3600) {
            let (work, next) = BackupPolicyPlan.due([p], now: now, calendar: utc)
            for w in work { ran.append(w); p = BackupPolicyPlan.ran(w, p, at: now) }
            #expect(next == nil || next! > now)
            now = now.addingTimeInterval(600)
        }
        let backups = ran.compactMap { w -> BackupLevel? in if case .backup(_, let l) = w { l } else { nil } }
        #expect(backups == [.full, .auto, .auto, .auto, .auto, .auto, .auto, .full], "Sunday full, then the week's dailies, Sunday full again")
        #expect(ran.filter { $0 == .verify(policy: "nightly") }.count == 7, "one verify a night")

        let interval = BackupPolicy(name: "often", vms: ["web"], schedule: try Schedule(parsing: "every 10s"), level: .incremental)
        #expect(BackupPolicyPlan.due([interval], now: t0).work == [.backup(policy: "often", level: .incremental)], "never run: at once")
        let after = BackupPolicyPlan.ran(.backup(policy: "often", level: .incremental), interval, at: t0)
        #expect(after.lastRun == t0.timeIntervalSince1970 && after.lastFull == nil)
        let (none, next) = BackupPolicyPlan.due([after], now: t0.addingTimeInterval(5))
        #expect(none.isEmpty && next == t0.addingTimeInterval(10))
    }

    @Test func chunkHashesMatchSHA256OfEachPieceAndVerifyNamesTheDamagedRange() throws {
        var bytes = [UInt8](repeating: 0, count: 10 * 1024 + 17)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        var hasher = ChunkHasher(chunk: 4096)
        // Fed in odd pieces, as a stream arrives.
        var offset = 0
        for piece in [1, 4095, 3000, 5000, 10_000] where offset < bytes.count {
            let end = min(offset + piece, bytes.count)
            bytes[offset..<end].withUnsafeBytes { hasher.feed($0) }
            offset = end
        }
        let (hashes, size) = hasher.finish()
        #expect(size == Int64(bytes.count))
        let expected = stride(from: 0, to: bytes.count, by: 4096).map { start in
            SHA256.hash(data: bytes[start..<min(start + 4096, bytes.count)]).map { String(format: "%02x", $0) }.joined()
        }
        #expect(hashes == expected)

        let dir = try TemporaryDirectory("vbu")
        defer { dir.remove() }
        let path = dir.path + "/f"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        #expect(try ChunkHasher.file(path, chunk: 4096).hashes == expected, "the same from a file")

        let stored = BackupManifest.StoredFile(name: "vda.qcow2", bytes: Int64(bytes.count), sha256: expected)
        var damaged = expected
        damaged[1] = String(repeating: "0", count: 64)
        damaged[2] = String(repeating: "0", count: 64)
        let found = BackupVerifier.compare(expected: stored, found: (damaged, Int64(bytes.count)), chunk: 4096, backup: "b1", disk: "vda")
        #expect(found == [BackupDamage(backup: "b1", disk: "vda", offset: 4096, length: Int64(bytes.count) - 4096, problem: "checksum mismatch")],
                "chunks 1 and 2 (the last, short one) as one range ending at the file's end")
        #expect(BackupVerifier.compare(expected: stored, found: (expected, Int64(bytes.count)), chunk: 4096, backup: "b1", disk: "vda").isEmpty)
        let short = BackupVerifier.compare(expected: stored, found: (Array(expected.prefix(2)), 8192), chunk: 4096, backup: "b1", disk: "vda")
        #expect(short.first?.problem.contains("8192 bytes") == true, "a truncated file: \(short)")
    }

    @Test func destinationsParseOrSayWhatIsWrong() throws {
        #expect(try BackupDestination(parsing: "/srv/backup/") == .local(path: "/srv/backup"))
        #expect(try BackupDestination(parsing: "ssh://root@127.0.0.20:2222/srv/b") == .ssh(user: "root", host: "127.0.0.20", port: 2222, path: "/srv/b"))
        #expect(try BackupDestination(parsing: "ssh://backup.example.org/b") == .ssh(user: nil, host: "backup.example.org", port: nil, path: "/b"))
        #expect(try BackupDestination(parsing: "ssh://u@h:22/b").description == "ssh://u@h:22/b")
        for bad in ["relative/dir", "ssh://host", "ssh://host:99999/b", "ssh://ho;st/b", "ssh://h/", "ftp://h/b", "/srv/../etc"] {
            #expect(throws: APIError.self, "'\(bad)'") { try BackupDestination(parsing: bad) }
        }
    }
}
