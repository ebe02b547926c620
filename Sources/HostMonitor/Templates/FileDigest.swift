import Crypto
import Foundation

/// Digests of whole files, streamed in 4 MiB reads (swift-crypto).
enum FileDigest {
    static func sha256(_ path: String, cancelled: () -> Bool = { false },
                       progress: (Int64) -> Void = { _ in }) throws -> String {
        try hex(SHA256.self, path, cancelled: cancelled, progress: progress)
    }

    static func hex<H: HashFunction>(_ function: H.Type, _ path: String, cancelled: () -> Bool = { false },
                                     progress: (Int64) -> Void = { _ in }) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DiskImage.Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = H()
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var total: Int64 = 0
        while true {
            if cancelled() { throw OperationCancelled() }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DiskImage.Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += Int64(n)
            progress(total)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
