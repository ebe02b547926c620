import CGuestSys
import Glibc

/// Watches kernel uevents for some subsystems on the uevent netlink socket
/// directly: works without udevd (minimal guests) and keeps libudev, a
/// shared library, out of the agent so it can be linked fully static.
final class UeventMonitor {
    /// Non-blocking; callers may poll it with their other descriptors.
    let fd: Int32
    private let matches: [[UInt8]]

    /// nil when the socket cannot be opened (callers fall back to polling).
    convenience init?(subsystem: String) { self.init(subsystems: [subsystem]) }

    init?(subsystems: [String]) {
        fd = vigil_uevent_socket()
        guard fd >= 0 else { return nil }
        matches = subsystems.map { Array("SUBSYSTEM=\($0)".utf8) }
    }

    deinit { close(fd) }

    /// Blocks up to `timeoutMs` for a uevent of the subsystems; true when one
    /// arrived. Callers rescan sysfs either way.
    func wait(timeoutMs: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMs) > 0 else { return false }
        return drain()
    }

    /// Reads what is queued ("action@devpath\0KEY=value\0..."); true when
    /// an event of the subsystems was among it.
    @discardableResult
    func drain() -> Bool {
        var buf = [UInt8](repeating: 0, count: 8192)
        var matched = false
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { break }
            let fields = buf[0..<n].split(separator: 0)
            if matches.contains(where: { m in fields.contains { $0.elementsEqual(m) } }) { matched = true }
        }
        return matched
    }
}
