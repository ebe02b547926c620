import Glibc

/// Writing to a virtio-serial port and asking for SIGIO on it, shared by the
/// Vigil port and the qemu-guest-agent port.
enum PortIO {
    /// Writes all of `bytes`, waiting briefly while the port is full; after
    /// `attempts` waits the rest is dropped (a stale message is worthless).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], attempts maxAttempts: Int) {
        var offset = 0
        var attempts = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                offset += n
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) && attempts < maxAttempts {
                attempts += 1
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, 20)
            } else {
                return
            }
        }
    }

    /// virtio_console raises SIGIO when the host side connects or disconnects.
    static func enableSIGIO(_ fd: Int32) {
        _ = fcntl(fd, F_SETOWN, getpid())
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC)
    }

    /// Starts `argv` (argv[0] is the path), its stdout on `stdout` when given;
    /// the pid, or the errno on failure.
    static func spawn(_ argv: [String], stdout: Int32? = nil) -> Result<pid_t, SpawnError> {
        var pid: pid_t = 0
        let cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, STDOUT_FILENO) }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
        return rc == 0 ? .success(pid) : .failure(SpawnError(code: rc))
    }

    struct SpawnError: Error, CustomStringConvertible {
        let code: Int32
        var description: String { String(cString: strerror(code)) }
    }
}
