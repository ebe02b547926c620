import CGuestSys
import Glibc

/// Watches kernel uevents for one subsystem on the uevent netlink socket
/// directly: works without udevd (minimal guests) and keeps libudev, a
/// shared library, out of the agent so it can be linked fully static.
final class UeventMonitor {
    private let fd: Int32
    private let match: [UInt8]

    /// nil when the socket cannot be opened (callers fall back to polling).
    init?(subsystem: String) {
        fd = vigil_uevent_socket()
        guard fd >= 0 else { return nil }
        match = Array("SUBSYSTEM=\(subsystem)".utf8)
    }

    deinit { close(fd) }

    /// Blocks up to `timeoutMs` for a uevent of the subsystem; true when one
    /// arrived. Callers rescan sysfs either way.
    func wait(timeoutMs: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMs) > 0 else { return false }
        var buf = [UInt8](repeating: 0, count: 8192)
        var matched = false
        // Drain what is queued: "action@devpath\0KEY=value\0...".
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { break }
            if buf[0..<n].split(separator: 0).contains(where: { $0.elementsEqual(match) }) { matched = true }
        }
        return matched
    }
}
