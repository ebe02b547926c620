import Glibc

/// Finds a virtio-serial port by channel name. udev, where it runs, makes
/// /dev/virtio-ports/NAME; minimal guests without udev only have sysfs.
enum PortLocator {
    static func find(channel: String, device: String?) -> String? {
        if let device { return access(device, F_OK) == 0 ? device : nil }
        let link = "/dev/virtio-ports/\(channel)"
        if access(link, F_OK) == 0 { return link }
        guard let dir = opendir("/sys/class/virtio-ports") else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix("vport") else { continue }
            let portName = GuestFacts.readFile("/sys/class/virtio-ports/\(name)/name")?
                .filter { !$0.isWhitespace }
            if portName == channel, access("/dev/\(name)", F_OK) == 0 { return "/dev/\(name)" }
        }
        return nil
    }
}
