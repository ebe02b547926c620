import CUdev
import Glibc

/// Watches kernel uevents for one subsystem through libudev. Uses the
/// "kernel" netlink source so it works without udevd (minimal guests).
public final class DeviceMonitor {
    private let udev: OpaquePointer
    private let monitor: OpaquePointer

    public enum MonitorError: Error, CustomStringConvertible {
        case setupFailed(String)
        public var description: String {
            switch self { case .setupFailed(let what): "udev monitor: \(what) failed (errno \(errno))" }
        }
    }

    public convenience init(subsystem: String) throws {
        try self.init(subsystems: [subsystem])
    }

    public init(subsystems: [String]) throws {
        guard let udev = udev_new() else { throw MonitorError.setupFailed("udev_new") }
        guard let monitor = udev_monitor_new_from_netlink(udev, "kernel") else {
            udev_unref(udev)
            throw MonitorError.setupFailed("udev_monitor_new_from_netlink")
        }
        self.udev = udev
        self.monitor = monitor
        guard subsystems.allSatisfy({ udev_monitor_filter_add_match_subsystem_devtype(monitor, $0, nil) >= 0 }),
              udev_monitor_enable_receiving(monitor) >= 0 else {
            throw MonitorError.setupFailed("enable receiving for \(subsystems.joined(separator: ", "))")
        }
    }

    deinit {
        udev_monitor_unref(monitor)
        udev_unref(udev)
    }

    /// For callers that poll several descriptors: readable when a uevent is queued.
    public var fd: Int32 { udev_monitor_get_fd(monitor) }

    /// Consumes every queued uevent without blocking (the netlink socket is non-blocking).
    public func drain() {
        while let dev = udev_monitor_receive_device(monitor) { udev_device_unref(dev) }
    }

    /// Blocks up to `timeoutMs` for a uevent; true when one arrived (it is
    /// consumed). Callers rescan sysfs either way.
    public func wait(timeoutMs: Int32) -> Bool {
        var pfd = pollfd(fd: udev_monitor_get_fd(monitor), events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMs) > 0 else { return false }
        if let dev = udev_monitor_receive_device(monitor) { udev_device_unref(dev) }
        return true
    }
}
