import Foundation

/// A backup repository in a local directory (or a mounted share).
struct LocalBackupStore: BackupStore {
    let root: String
    var destination: BackupDestination { .local(path: root) }
    var localRoot: String? { root }

    private var files: FileManager { .default }

    func manifests() async throws -> [(path: String, data: Data)] {
        var found: [(String, Data)] = []
        for vm in (try? files.contentsOfDirectory(atPath: root)) ?? [] where !vm.hasPrefix(".") {
            for backup in (try? files.contentsOfDirectory(atPath: root + "/" + vm)) ?? [] where !backup.hasPrefix(".") {
                let path = "\(root)/\(vm)/\(backup)/manifest.json"
                if let data = files.contents(atPath: path) { found.append((path, data)) }
            }
        }
        return found
    }

    func list(_ dir: String) async throws -> [String] { (try? files.contentsOfDirectory(atPath: dir)) ?? [] }

    func makeDirectory(_ path: String) async throws {
        try files.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ data: Data, to path: String) async throws {
        let temporary = path + ".tmp"
        guard files.createFile(atPath: temporary, contents: data) else {
            throw BackupStoreError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        try await rename(temporary, to: path)
    }

    func rename(_ from: String, to: String) async throws {
        guard Glibc.rename(from, to) == 0 else {
            throw BackupStoreError(description: "cannot rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }

    func remove(_ path: String) async throws {
        if files.fileExists(atPath: path) { try files.removeItem(atPath: path) }
    }

    func upload(_ local: String, to path: String, rateLimitMiBs: Int?) async throws {
        try ThrottledCopy.copy(from: local, to: path, rateLimitMiBs: rateLimitMiBs)
    }

    func download(_ path: String, to local: String) async throws {
        try ThrottledCopy.copy(from: path, to: local, rateLimitMiBs: nil)
    }

    func chunkHashes(_ path: String, chunk: Int) async throws -> (hashes: [String], bytes: Int64) {
        try ChunkHasher.file(path, chunk: chunk)
    }

    func freeBytes(_ path: String) async throws -> Int64? { FileFacts.freeBytes(path) }
}

/// A file copy with an optional bandwidth cap, fsynced before it returns
/// (a backup is only listed once its data is on disk). Holes in the source
/// stay holes.
enum ThrottledCopy {
    static func copy(from source: String, to destination: String, rateLimitMiBs: Int?) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw failure("read", source) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard output >= 0 else { throw failure("create", destination) }
        defer { close(output) }
        let size = lseek(input, 0, SEEK_END)
        let piece = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piece, alignment: 4096)
        defer { buffer.deallocate() }
        let began = ContinuousClock.now
        var offset: off_t = 0, written: Int64 = 0
        while offset < size {
            // Skip holes: SEEK_DATA finds the next byte that is not one.
            let data = lseek(input, offset, 3 /* SEEK_DATA */)
            if data < 0 { break }
            offset = data
            let n = pread(input, buffer.baseAddress, piece, offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { if n == 0 { break }; throw failure("read", source) }
            var done = 0
            while done < n {
                let w = pwrite(output, buffer.baseAddress! + done, n - done, offset + off_t(done))
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else { throw failure("write", destination) }
                done += w
            }
            offset += off_t(n)
            written += Int64(n)
            if let limit = rateLimitMiBs, limit > 0 {
                let due = Double(written) / Double(limit << 20)
                let spent = Double(began.duration(to: .now).components.attoseconds) / 1e18
                    + Double(began.duration(to: .now).components.seconds)
                if due > spent { usleep(UInt32(min((due - spent) * 1e6, 1e6))) }
            }
        }
        guard ftruncate(output, size) == 0, fsync(output) == 0 else { throw failure("finish", destination) }
    }

    private static func failure(_ what: String, _ path: String) -> BackupStoreError {
        BackupStoreError(description: "cannot \(what) \(path): \(String(cString: strerror(errno)))")
    }
}
