import Foundation
@testable import HostMonitor
import Testing
import TestSupport

/// The in-process qcow2 overlay, judged by qemu's own tools: `qemu-img
/// check` finds it consistent, `qemu-img info` reads the same header as for
/// qemu-img's own overlay, data reads through to the base and writes stay in
/// the overlay.
@Suite struct QCOW2Tests {
    static func qemuImg(_ args: String...) throws -> CommandResult {
        let r = try ProcessRunner.run(["/usr/bin/qemu-img"] + args)
        if r.status != 0 { throw TestbedError("qemu-img \(args.joined(separator: " ")): \(r.stderr)") }
        return r
    }

    static func qemuIO(_ path: String, _ command: String) throws -> CommandResult {
        try ProcessRunner.run(["/usr/bin/qemu-io", "-c", command, path])
    }

    struct Info: Decodable, Equatable {
        var format: String
        var virtualSize: Int64
        var clusterSize: Int
        var backingFilename: String?
        var backingFilenameFormat: String?
        enum CodingKeys: String, CodingKey {
            case format
            case virtualSize = "virtual-size"
            case clusterSize = "cluster-size"
            case backingFilename = "backing-filename"
            case backingFilenameFormat = "backing-filename-format"
        }
    }

    static func info(_ path: String) throws -> Info {
        try JSONDecoder().decode(Info.self, from: Data(try qemuImg("info", "--output=json", path).stdout.utf8))
    }

    @Test(arguments: [1 << 30, 5 << 30 + 12345 * 512, 1 << 20, 100 << 30] as [Int64])
    func overlayOnQcow2IsWhatQemuImgMakes(size: Int64) throws {
        let dir = try TemporaryDirectory("qcow2")
        defer { dir.remove() }
        let base = dir.path + "/base.qcow2", ours = dir.path + "/ours.qcow2", theirs = dir.path + "/theirs.qcow2"
        _ = try Self.qemuImg("create", "-q", "-f", "qcow2", base, "\(size)")
        try QCOW2.createOverlay(ours, backing: base, backingFormat: "qcow2", virtualSize: size)
        _ = try Self.qemuImg("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, theirs)

        let check = try ProcessRunner.run(["/usr/bin/qemu-img", "check", ours])
        #expect(check.status == 0, "qemu-img check: \(check.stdout) \(check.stderr)")
        #expect(try Self.info(ours) == Self.info(theirs))
        #expect(FileFacts.size(ours) == FileFacts.size(theirs))

        let h = try #require(try QCOW2.header(ours))
        #expect(h.virtualSize == size && h.backingFile == base && h.backingFormat == "qcow2" && h.snapshots == 0)
        #expect(try QCOW2.isEmpty(ours, h))
        #expect(try QCOW2.header(theirs).map { try QCOW2.isEmpty(theirs, $0) } == true)
    }

    @Test func dataReadsThroughToTheBaseAndWritesStayInTheOverlay() throws {
        let dir = try TemporaryDirectory("qcow2")
        defer { dir.remove() }
        let base = dir.path + "/base.raw", overlay = dir.path + "/overlay.qcow2"
        _ = try Self.qemuImg("create", "-q", "-f", "raw", base, "64M")
        #expect(try Self.qemuIO(base, "write -P 0x5a 1M 2M").status == 0)
        try QCOW2.createOverlay(overlay, backing: base, backingFormat: "raw", virtualSize: 64 << 20)
        #expect(try Self.qemuIO(overlay, "read -P 0x5a 1M 2M").status == 0)

        #expect(try Self.qemuIO(overlay, "write -P 0x33 40M 1M").status == 0)
        let h = try #require(try QCOW2.header(overlay))
        #expect(try !QCOW2.isEmpty(overlay, h), "an overlay with data of its own is not empty")
        #expect(try Self.qemuIO(base, "read -P 0 40M 1M").status == 0, "the base must not change")
        #expect(try Self.qemuIO(overlay, "read -P 0x33 40M 1M").status == 0)
        let check = try ProcessRunner.run(["/usr/bin/qemu-img", "check", overlay])
        #expect(check.status == 0, "\(check.stdout)")
    }

    @Test func neverOverwritesAndLeavesNothingWhenItCannotWrite() throws {
        let dir = try TemporaryDirectory("qcow2")
        defer { dir.remove() }
        let base = dir.path + "/base.qcow2", existing = dir.path + "/existing"
        _ = try Self.qemuImg("create", "-q", "-f", "qcow2", base, "1G")
        _ = FileManager.default.createFile(atPath: existing, contents: Data("keep".utf8))
        #expect(throws: DiskImage.Failure.self) {
            try QCOW2.createOverlay(existing, backing: base, backingFormat: "qcow2", virtualSize: 1 << 30)
        }
        #expect(FileManager.default.contents(atPath: existing) == Data("keep".utf8))
        #expect(throws: DiskImage.Failure.self) {
            try QCOW2.createOverlay(dir.path + "/no/such/dir.qcow2", backing: base, backingFormat: "qcow2", virtualSize: 1 << 30)
        }
        let long = "/" + String(repeating: "x", count: 1100)
        #expect(throws: DiskImage.Failure.self) {
            try QCOW2.createOverlay(dir.path + "/long.qcow2", backing: long, backingFormat: "qcow2", virtualSize: 1 << 30)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/long.qcow2"))
    }

    @Test func createOverlayChecksTheBaseAndNeverShrinksIt() async throws {
        let dir = try TemporaryDirectory("qcow2")
        defer { dir.remove() }
        let raw = dir.path + "/raw.img", base = dir.path + "/base.qcow2"
        _ = try Self.qemuImg("create", "-q", "-f", "raw", raw, "8M")
        _ = try Self.qemuImg("create", "-q", "-f", "qcow2", base, "2G")
        await #expect(throws: DiskImage.Failure.self, "a raw file named as qcow2") {
            try await DiskImage.createOverlay(dir.path + "/a.qcow2", backing: raw, backingFormat: "qcow2", virtualSize: 8 << 20)
        }
        await #expect(throws: DiskImage.Failure.self, "a missing base") {
            try await DiskImage.createOverlay(dir.path + "/b.qcow2", backing: dir.path + "/gone", backingFormat: "raw", virtualSize: 8 << 20)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/a.qcow2") && !FileManager.default.fileExists(atPath: dir.path + "/b.qcow2"))
        // A stale, smaller size must not hide the end of the base.
        try await DiskImage.createOverlay(dir.path + "/c.qcow2", backing: base, backingFormat: "qcow2", virtualSize: 1 << 30)
        #expect(try Self.info(dir.path + "/c.qcow2").virtualSize == 2 << 30)
        // Bigger than the base (a grown disk): reads past the base's end are zeros.
        try await DiskImage.createOverlay(dir.path + "/d.qcow2", backing: raw, backingFormat: "raw", virtualSize: 16 << 20)
        #expect(try Self.info(dir.path + "/d.qcow2").virtualSize == 16 << 20)
        #expect(try Self.qemuIO(dir.path + "/d.qcow2", "read -P 0 10M 1M").status == 0)
    }

    @Test func hostileHeadersAreReadWithoutCrashing() throws {
        let dir = try TemporaryDirectory("qcow2")
        defer { dir.remove() }
        let base = dir.path + "/base.qcow2", overlay = dir.path + "/o.qcow2", bad = dir.path + "/bad.qcow2"
        _ = try Self.qemuImg("create", "-q", "-f", "qcow2", base, "1G")
        try QCOW2.createOverlay(overlay, backing: base, backingFormat: "qcow2", virtualSize: 1 << 30)
        let good = try #require(FileManager.default.contents(atPath: overlay))
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var bytes = [UInt8](good.prefix(4096))
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                bytes[Int.random(in: 8..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
            _ = FileManager.default.createFile(atPath: bad, contents: Data(bytes))
            if let h = try QCOW2.header(bad) { _ = try? QCOW2.isEmpty(bad, h) }
        }
        _ = FileManager.default.createFile(atPath: bad, contents: Data("not an image at all".utf8))
        #expect(try QCOW2.header(bad) == nil)
    }
}
