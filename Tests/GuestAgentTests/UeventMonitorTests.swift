import Glibc
import Testing
@testable import GuestAgent

/// The netlink uevent monitor that replaced libudev sees real kernel events
/// of its subsystem and ignores others' (needs root to trigger a uevent).
// Serialized: each test triggers a net uevent the other would see.
@Suite(.serialized, .enabled(if: access("/sys/class/net/lo/uevent", W_OK) == 0, "needs write access to /sys/class/net/lo/uevent"))
struct UeventMonitorTests {
    static func trigger() {
        let fd = open("/sys/class/net/lo/uevent", O_WRONLY)
        guard fd >= 0 else { return }
        _ = Array("change".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    @Test func seesAnEventOfItsSubsystem() throws {
        let monitor = try #require(UeventMonitor(subsystem: "net"))
        Self.trigger()
        #expect(monitor.wait(timeoutMs: 2000))
        // Drained: nothing more pending.
        #expect(!monitor.wait(timeoutMs: 50))
    }

    @Test func ignoresOtherSubsystems() throws {
        let monitor = try #require(UeventMonitor(subsystem: "virtio-ports"))
        Self.trigger()
        #expect(!monitor.wait(timeoutMs: 500))
    }
}
