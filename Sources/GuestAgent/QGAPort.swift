import AgentWire
import Glibc

/// The optional org.qemu.guest_agent.0 port, served with `QGAServer` from
/// the agent's main loop. Opened lazily and again after failures; when
/// another process (qemu-ga) holds the port, the agent leaves it alone and
/// only looks again every 30 s.
final class QGAPort {
    static let channel = "org.qemu.guest_agent.0"
    private(set) var fd: Int32 = -1
    /// The host side is not connected (POLLHUP): poll it again after a port change.
    var hungUp = false
    private var retryAtMs: Int64 = 0
    private var server = QGAServer(version: AgentBuild.version)
    private var announced = ""

    /// Opens the port when it is due; cheap to call every loop.
    func openIfDue(now: Int64) {
        guard fd < 0, now >= retryAtMs else { return }
        guard let path = PortLocator.find(channel: Self.channel, device: nil) else {
            note("no \(Self.channel) port; the qemu-guest-agent protocol is off until one appears")
            retryAtMs = now + 5_000
            return
        }
        let opened = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard opened >= 0 else {
            let why = errno == EBUSY ? "another process (qemu-ga?) holds \(path)" : "cannot open \(path): errno \(errno)"
            note("\(why); not serving the qemu-guest-agent protocol (will look again)")
            retryAtMs = now + 30_000
            return
        }
        PortIO.enableSIGIO(opened)
        fd = opened
        hungUp = false
        server = QGAServer(version: AgentBuild.version)
        note("serving the qemu-guest-agent protocol on \(path)")
    }

    /// Reads and answers; returns false when the port failed and was closed.
    func service() {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard n > 0 else {
            // EOF: the host side went away; wait for it to come back.
            hungUp = true
            return
        }
        for output in server.feed(buf[0..<n]) {
            switch output {
            case .write(let bytes):
                writeAll(bytes)
            case .shutdown(let mode):
                GuestPower.shutdown(mode: mode)
            }
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private func writeAll(_ bytes: [UInt8]) { PortIO.writeAll(fd, bytes, attempts: 100) }

    private func note(_ message: String) {
        guard message != announced else { return }
        announced = message
        log(message)
    }
}

/// Powers the guest off, halts or reboots it the way its init system
/// expects, as `virsh shutdown --mode=agent` asks.
enum GuestPower {
    static func shutdown(mode: String) {
        let flag = mode == "reboot" ? "-r" : mode == "halt" ? "-H" : "-P"
        let simple = mode == "reboot" ? "reboot" : mode == "halt" ? "halt" : "poweroff"
        log("guest-shutdown: \(mode)")
        sync()
        // systemd and sysvinit have shutdown(8); busybox systems have poweroff & co.
        for argv in [["/sbin/shutdown", flag, "+0", "vigil-agent: shutdown requested by the host"],
                     ["/sbin/\(simple)"], ["/bin/busybox", simple]] where access(argv[0], X_OK) == 0 {
            if spawn(argv) { return }
        }
        log("guest-shutdown: no shutdown command worked")
    }

    private static func spawn(_ argv: [String]) -> Bool {
        guard case .success(let pid) = PortIO.spawn(argv) else { return false }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        return status == 0
    }
}
