import AgentWire
import Glibc

/// Puts a verified build in place without ever leaving the guest without a
/// working agent: the new binary first runs on trial (it must open the port
/// and complete a handshake with vigild within the timeout); only then is it
/// renamed over the running one (atomic; the old one kept as `.prev`) and
/// exec'd in this process. Otherwise it is killed and removed, and the
/// running build carries on.
enum UpgradeInstaller {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Returns only on failure (success execs the new build).
    static func install(_ ready: UpgradeReceiver.Ready) -> Failure {
        guard let resolved = realpath("/proc/self/exe", nil) else { return Failure(description: "cannot find the running binary") }
        let selfPath = String(cString: resolved)
        free(resolved)
        let newPath = selfPath + ".new", prevPath = selfPath + ".prev"
        defer { unlink(ready.path) }
        guard copy(ready.path, to: newPath) else {
            unlink(newPath)
            return Failure(description: "cannot write \(newPath): errno \(errno)")
        }
        if let failure = trial(newPath, timeoutMs: ready.trialTimeoutMs) {
            unlink(newPath)
            log("upgrade to \(ready.manifest.version) rolled back: \(failure)")
            return failure
        }
        unlink(prevPath)
        _ = link(selfPath, prevPath)
        guard rename(newPath, selfPath) == 0 else {
            unlink(newPath)
            return Failure(description: "cannot replace \(selfPath): errno \(errno)")
        }
        unlink(ready.path)   // exec skips the deferred clean-up
        log("upgraded to \(ready.manifest.version); previous build kept as \(prevPath)")
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv(selfPath, args)
        // exec failed: put the old build back.
        _ = rename(prevPath, selfPath)
        return Failure(description: "exec of the new build failed: errno \(errno)")
    }

    /// Runs the new build with `--upgrade-trial-fd N`; it writes "ok" there
    /// after vigild's welcome, then exits. nil when it did.
    private static func trial(_ path: String, timeoutMs: Int) -> Failure? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return Failure(description: "pipe: errno \(errno)") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        defer { close(readEnd) }
        let spawned = PortIO.spawn([path] + CommandLine.arguments.dropFirst() + ["--upgrade-trial-fd", "\(writeEnd)"])
        close(writeEnd)
        let pid: pid_t
        switch spawned {
        case .success(let p): pid = p
        case .failure(let error): return Failure(description: "the new build does not start: \(error)")
        }
        var pfd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        var answer = [UInt8](repeating: 0, count: 8)
        var got = 0
        let deadline = GuestFacts.monotonicMs() + Int64(timeoutMs)
        while GuestFacts.monotonicMs() < deadline {
            let r = poll(&pfd, 1, Int32(max(0, deadline - GuestFacts.monotonicMs())))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { break }
            got = read(readEnd, &answer, answer.count)
            break
        }
        if got >= 2 && answer[0] == UInt8(ascii: "o") && answer[1] == UInt8(ascii: "k") {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            return nil
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        if got == 0 && (status & 0x7f) == 0 {
            return Failure(description: "the new build exited (status \((status >> 8) & 0xff)) before its handshake")
        }
        return Failure(description: "the new build did not complete a handshake with vigild within \(timeoutMs / 1000) s")
    }

    private static func copy(_ from: String, to: String) -> Bool {
        guard let bytes = SysFiles.bytes(from, max: UpgradeReceiver.maxBytes) else { return false }
        unlink(to)
        let fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return false }
            offset += n
        }
        return fsync(fd) == 0 || errno == EINVAL
    }
}
