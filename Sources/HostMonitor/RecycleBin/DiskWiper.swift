import Foundation

/// Zero-fills a disk file in place before it is deleted, so the guest's data
/// does not linger in freed blocks. Blocking; call it on the executor.
/// Reports progress and checks for cancellation between chunks, so a
/// long-running operation can show and stop it.
enum DiskWiper {
    struct WipeError: Error, CustomStringConvertible {
        let description: String
    }

    /// Overwrites every byte of `path` (its size as it is now) with zeros,
    /// in `chunkBytes` chunks, with an fsync every `syncEvery` chunks and at
    /// the end. `progress(done, total)` is called after each chunk;
    /// `isCancelled` returning true stops it with an error (the file is
    /// then partly zeroed).
    static func zeroFill(_ path: String, chunkBytes: Int = 4 << 20, syncEvery: Int = 64,
                         progress: (UInt64, UInt64) -> Void = { _, _ in },
                         isCancelled: () -> Bool = { false }) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WipeError(description: "cannot open \(path) to wipe it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw WipeError(description: "cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw WipeError(description: "\(path) is not a regular file; only disk image files are wiped") }
        let total = UInt64(st.st_size)
        let zeros = [UInt8](repeating: 0, count: chunkBytes)
        var done: UInt64 = 0
        var chunks = 0
        progress(0, total)
        while done < total {
            if isCancelled() { throw WipeError(description: "wipe of \(path) cancelled after \(done) of \(total) bytes") }
            let n = Int(min(UInt64(chunkBytes), total - done))
            let written = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, n, off_t(done)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw WipeError(description: "writing zeros to \(path) failed at byte \(done): \(String(cString: strerror(errno)))")
            }
            done += UInt64(written)
            chunks += 1
            if chunks % syncEvery == 0 { fsync(fd) }
            progress(done, total)
        }
        guard fsync(fd) == 0 else { throw WipeError(description: "fsync of \(path) failed: \(String(cString: strerror(errno)))") }
    }
}
