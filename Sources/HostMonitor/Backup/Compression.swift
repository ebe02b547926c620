import Foundation
import Subprocess

/// zstd through Debian's `zstd` (multi-threaded, the format Proxmox Backup
/// Server uses too); swift-crypto and Foundation have no zstd, and no
/// well-kept Swift binding is available here.
enum Compression {
    static func compress(_ source: String, to destination: String) async throws {
        try await zstd(["-q", "-f", "-T0", "-3", source, "-o", destination], what: "compress \(source)")
    }

    static func decompress(_ source: String, to destination: String) async throws {
        try await zstd(["-q", "-f", "-d", "--sparse", source, "-o", destination], what: "decompress \(source)")
    }

    private static func zstd(_ args: [String], what: String) async throws {
        let result = try await run(.path("/usr/bin/zstd"), arguments: Arguments(args), input: .none,
                                   output: .discarded, error: .string(limit: 65_536))
        guard result.terminationStatus.isSuccess else {
            let message = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw BackupStoreError(description: "could not \(what): \(message.isEmpty ? "\(result.terminationStatus)" : message)")
        }
    }
}
