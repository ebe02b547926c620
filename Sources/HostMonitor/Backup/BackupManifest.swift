import Core
import Crypto
import Foundation

/// What a backup directory holds besides its images: the backup's facts,
/// the libvirt checkpoint it ended with, and a SHA-256 per 4 MiB of every
/// stored file (what verify recomputes). Written last: a backup directory
/// without one was never finished.
struct BackupManifest: Codable, Sendable, Equatable {
    struct StoredFile: Codable, Sendable, Equatable {
        var name: String
        var bytes: Int64
        var sha256: [String]
    }

    var format = 1
    var info: BackupInfo
    /// The checkpoint libvirt created at this backup's instant (nil: raw
    /// disks, which cannot hold one; only full backups then).
    var checkpoint: String?
    var chunkBytes: Int
    var files: [StoredFile]

    static let chunkBytes = 4 << 20
    static let fileName = "manifest.json"

    func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    static func decode(_ data: Data) throws -> BackupManifest { try JSONDecoder().decode(BackupManifest.self, from: data) }
}

/// Where things are in a repository: `ROOT/VM-UUID/BACKUP-ID/` holds one
/// backup (`manifest.json`, `domain.xml`, `vda.qcow2` or `vda.qcow2.zst`…);
/// `ROOT/VM-UUID/.partial-BACKUP-ID/` is one being written, never listed,
/// renamed into place once whole. An incremental's image names its parent's
/// image as `../PARENT-ID/vda.qcow2`, so a chain works wherever the
/// repository is copied or fetched to.
enum BackupLayout {
    static func vmDirectory(_ root: String, _ uuid: String) -> String { "\(root)/\(uuid)" }
    static func directory(_ root: String, _ uuid: String, _ id: String) -> String { "\(root)/\(uuid)/\(id)" }
    static func partial(_ root: String, _ uuid: String, _ id: String) -> String { "\(root)/\(uuid)/.partial-\(id)" }
    static func image(_ target: String) -> String { "\(target).qcow2" }
    static func backingReference(parent: String, target: String) -> String { "../\(parent)/\(image(target))" }

    /// `20261202-061503-3fa2`: sorts by time, unique per VM.
    static func newID(at date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        let stamp = String(format: "%04d%02d%02d-%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                           parts.tm_hour, parts.tm_min, parts.tm_sec)
        return stamp + "-" + String(UUID().uuidString.prefix(4)).lowercased()
    }

    /// A backup's checkpoint on the VM: `vigil-DEST-ID`, DEST a short hash of
    /// the destination, so a destination's checkpoints (those of backups
    /// that failed too) can be pruned without touching another destination's chain.
    static func checkpointName(_ id: String, destination: BackupDestination) -> String {
        "\(checkpointPrefix(destination))\(id)"
    }

    static func checkpointPrefix(_ destination: BackupDestination) -> String {
        let digest = SHA256.hash(data: Data(destination.description.utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
        return "vigil-\(digest)-"
    }

    static func isBackupID(_ s: String) -> Bool {
        s.count <= 64 && !s.isEmpty && !s.hasPrefix(".") && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }
    }
}
