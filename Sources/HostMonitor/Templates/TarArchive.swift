import Foundation
import Subprocess

/// tar archives through GNU tar (templates' export format, and OVA files).
/// Archives come from outside: members are listed and checked before
/// anything is extracted — plain files (and, where allowed, directories)
/// with relative names only; no links, devices or `..`.
enum TarArchive {
    static func members(_ path: String) async throws -> [Member] {
        try members(listing: try await tar(["--list", "--verbose", "--numeric-owner", "--quoting-style=escape", "-f", path]))
    }

    static func extract(_ path: String, into dir: String) async throws {
        _ = try await tar(["--extract", "--no-same-owner", "--no-same-permissions", "--no-overwrite-dir", "-f", path, "-C", dir])
    }

    /// Writes `name` (a directory under `parent`) into a new archive at `path`,
    /// reporting the archive's growth against `expectedBytes`.
    static func create(_ path: String, from parent: String, name: String, expectedBytes: Int64,
                       progress: @escaping @Sendable (Double) -> Void) async throws {
        let watcher = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(200))
                progress(min(1, Double(FileFacts.size(path)) / Double(max(expectedBytes, 1))))
            }
        }
        defer { watcher.cancel() }
        _ = try await tar(["--create", "--sparse", "-f", path, "-C", parent, name])
    }

    private static func tar(_ args: [String]) async throws -> String {
        let result = try await run(.path("/bin/tar"), arguments: Arguments(args),
                                   output: .string(limit: 4 << 20), error: .string(limit: 65_536))
        guard result.terminationStatus.isSuccess else {
            throw DiskImage.Failure(description: "tar \(args.first ?? ""): \(result.standardError.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return result.standardOutput
    }
}
