import AgentWire
import Glibc

/// Runs `vigil-agent-verify` on a staged binary: size, SHA-256 and the
/// Ed25519 signature are checked in that short-lived process, so swift-crypto
/// (and the Foundation it needs) never load into the resident agent.
enum PackageVerifier {
    /// nil when the package checks out, else why not.
    static func check(_ binaryPath: String, manifest: AgentPackageManifest, keyFiles: [String], verifier: String) -> String? {
        guard let json = try? JSONValueEncoder.encode(manifest) else { return "cannot encode the manifest" }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return "pipe: errno \(errno)" }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        let spawned = PortIO.spawn([verifier, binaryPath, String(decoding: json.jsonBytes, as: UTF8.self)] + keyFiles, stdout: writeEnd)
        close(writeEnd)
        defer { close(readEnd) }
        guard case .success(let pid) = spawned else {
            if case .failure(let error) = spawned { return "cannot run \(verifier): \(error)" }
            return "cannot run \(verifier)"
        }
        // The reason, if any: one short line (bounded, the child is ours but still).
        var reason: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 512)
        while reason.count < 2048 {
            let n = read(readEnd, &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            reason += buf[0..<n]
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7F == 0, code = (status >> 8) & 0xFF
        if exited && code == 0 { return nil }
        let text = String(decoding: reason, as: UTF8.self).filter { $0 != "\n" }
        return text.isEmpty ? "\(verifier) failed (status \(status))" : text
    }
}
