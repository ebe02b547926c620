import Foundation
import Subprocess

/// tar archives through GNU tar (templates' export format, and OVA files).
/// Archives come from outside: members are listed and checked before
/// anything is extracted — plain files (and, where allowed, directories)
/// with relative names only; no links, devices or `..`.
enum TarArchive {
    struct Member: Sendable, Equatable {
        var name: String
        var isDirectory: Bool
        var size: Int64
    }

    static func members(_ path: String) async throws -> [Member] {
        let out = try await tar(["--list", "--verbose", "--numeric-owner", "--quoting-style=escape", "-f", path])
        return try out.split(separator: "\n").map { line in
            // "-rw-r--r-- 0/0 1048576 2026-11-25 21:30 dir/name"
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, let size = Int64(fields[2]), let kind = fields[0].first else {
                throw DiskImage.Failure(description: "unexpected tar listing line '\(line)'")
            }
            guard kind == "-" || kind == "d" else {
                throw DiskImage.Failure(description: "the archive holds '\(fields[5])', which is not a plain file or directory")
            }
            return Member(name: String(fields[5]), isDirectory: kind == "d", size: size)
        }
    }

    /// Refuses names that could land outside the extraction directory.
    static func check(_ members: [Member], allowDirectories: Bool) throws {
        for m in members {
            let parts = m.name.split(separator: "/", omittingEmptySubsequences: false)
            if m.name.hasPrefix("/") || parts.contains("..") || m.name.contains("\\") || (m.isDirectory && !allowDirectories) {
                throw DiskImage.Failure(description: "the archive member '\(m.name)' is not allowed (absolute, '..', or a directory)")
            }
        }
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
