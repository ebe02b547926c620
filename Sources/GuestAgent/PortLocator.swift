import Glibc

/// Finds a virtio-serial port by channel name. udev, where it runs, makes
/// /dev/virtio-ports/NAME; minimal guests without udev only have sysfs.
enum PortLocator {
    static func find(channel: String, device: String?) -> String? {
        if let device { return access(device, F_OK) == 0 ? device : nil }
        let link = "/dev/virtio-ports/\(channel)"
        if access(link, F_OK) == 0 { return link }
        for name in SysFiles.entries("/sys/class/virtio-ports") where name.hasPrefix("vport") {
            let portName = GuestFacts.readFile("/sys/class/virtio-ports/\(name)/name")?
                .filter { !$0.isWhitespace }
            if portName == channel, access("/dev/\(name)", F_OK) == 0 { return "/dev/\(name)" }
        }
        return nil
    }
}
