import Crypto
import Dispatch
import Foundation
import Synchronization

/// The file operations a backup repository needs, the same for a local
/// directory and an SSH server, so the backup, restore and verify logic
/// never asks which one it has.
protocol BackupStore: Sendable {
    var destination: BackupDestination { get }
    /// A path libvirt and qemu-img can write to directly (local stores only).
    var localRoot: String? { get }
    /// Every `manifest.json` two levels under `root` (`VM/BACKUP/manifest.json`)
    /// as (path, contents), in one round trip.
    func manifests() async throws -> [(path: String, data: Data)]
    /// Entries of `dir` (none when it does not exist).
    func list(_ dir: String) async throws -> [String]
    func makeDirectory(_ path: String) async throws
    /// Written whole or not at all (a temporary name, then a rename).
    func write(_ data: Data, to path: String) async throws
    func rename(_ from: String, to: String) async throws
    /// Recursive; nothing to do when it does not exist.
    func remove(_ path: String) async throws
    func upload(_ local: String, to path: String, rateLimitMiBs: Int?) async throws
    func download(_ path: String, to local: String) async throws
    /// SHA-256 of each `chunk`-byte piece of the stored file, and its size.
    func chunkHashes(_ path: String, chunk: Int) async throws -> (hashes: [String], bytes: Int64)
    /// Free bytes where `path` lives (nil when unknown).
    func freeBytes(_ path: String) async throws -> Int64?
}

/// Failures of a backup repository, saying which one and what to check.
struct BackupStoreError: Error, CustomStringConvertible {
    let description: String
}

/// SHA-256 over a stream, one digest per fixed-size chunk.
struct ChunkHasher {
    let chunk: Int
    private(set) var hashes: [String] = []
    private(set) var bytes: Int64 = 0
    private var current = SHA256()
    private var filled = 0

    init(chunk: Int) { self.chunk = chunk }

    mutating func feed(_ buffer: UnsafeRawBufferPointer) {
        var rest = buffer
        while !rest.isEmpty {
            let take = min(chunk - filled, rest.count)
            current.update(bufferPointer: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            filled += take
            bytes += Int64(take)
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
            if filled == chunk { closeChunk() }
        }
    }

    private mutating func closeChunk() {
        hashes.append(current.finalize().map { String(format: "%02x", $0) }.joined())
        current = SHA256()
        filled = 0
    }

    mutating func finish() -> (hashes: [String], bytes: Int64) {
        if filled > 0 || hashes.isEmpty { closeChunk() }
        return (hashes, bytes)
    }

    /// Hashes a local file: its chunks are independent, so they are read
    /// and hashed on every core at once (a full backup's checksums would
    /// otherwise cost as much as the copy itself).
    static func file(_ path: String, chunk: Int) throws -> (hashes: [String], bytes: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupStoreError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw BackupStoreError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        let size = Int64(st.st_size)
        let count = max(1, Int((size + Int64(chunk) - 1) / Int64(chunk)))
        let results = Mutex<[Int: Result<String, BackupStoreError>]>([:])
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
            defer { buffer.deallocate() }
            let offset = off_t(i) * off_t(chunk)
            let want = Int(min(Int64(chunk), max(size - Int64(offset), 0)))
            var got = 0
            while got < want {
                let n = pread(fd, buffer.baseAddress! + got, want - got, offset + off_t(got))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    let failure = BackupStoreError(description: "cannot read \(path) at \(offset + off_t(got)): \(n == 0 ? "it shrank" : String(cString: strerror(errno)))")
                    results.withLock { $0[i] = .failure(failure) }
                    return
                }
                got += n
            }
            let digest = SHA256.hash(data: UnsafeRawBufferPointer(rebasing: buffer.prefix(want)))
            results.withLock { $0[i] = .success(digest.map { String(format: "%02x", $0) }.joined()) }
        }
        let all = results.withLock { $0 }
        let hashes = try (0..<count).map { i -> String in
            guard let r = all[i] else { throw BackupStoreError(description: "cannot read \(path)") }
            return try r.get()
        }
        return (hashes, size)
    }
}
