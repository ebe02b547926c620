import AgentWire
import Glibc

/// A mounted filesystem on a block device, from /proc/self/mountinfo.
struct MountEntry: Equatable {
    var mountpoint: String
    var type: String
    var source: String
    var major: UInt32
    var minor: UInt32

    /// The kernel's name for the device ("vda1", "dm-0"), as qemu-ga reports it.
    var deviceName: String {
        if let target = SysFiles.link("/sys/dev/block/\(major):\(minor)"), let last = target.split(separator: "/").last {
            return String(last)
        }
        return String(source.split(separator: "/").last ?? Substring(source))
    }
}

/// guest-get-fsinfo and the mount list that freezing works on.
enum GuestFilesystems {
    /// Real filesystems: those on a block device. Anonymous devices (major 0:
    /// proc, sysfs, tmpfs, an initramfs root, overlay, NFS) are skipped, as
    /// qemu-ga does, except btrfs whose subvolumes report major 0.
    static func mounts(mountinfo: String) -> [MountEntry] {
        mountinfo.split(separator: "\n").compactMap { line -> MountEntry? in
            guard var entry = parse(line) else { return nil }
            if entry.major == 0 {
                guard entry.type == "btrfs", let (major, minor) = blockDevice(entry.source) else { return nil }
                (entry.major, entry.minor) = (major, minor)
            }
            return entry
        }
    }

    static func mounts() -> [MountEntry] {
        mounts(mountinfo: SysFiles.read("/proc/self/mountinfo") ?? "")
    }

    /// "36 35 98:0 /mnt1 /mnt/a rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
    static func parse(_ line: Substring) -> MountEntry? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash >= 6, dash + 2 < fields.count else {
            return nil
        }
        let device = fields[2].split(separator: ":")
        guard device.count == 2, let major = UInt32(device[0]), let minor = UInt32(device[1]) else { return nil }
        return MountEntry(mountpoint: unescape(fields[4]), type: unescape(fields[dash + 1]),
                          source: unescape(fields[dash + 2]), major: major, minor: minor)
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ field: Substring) -> String {
        let raw = Array(field.utf8)
        let octal = UInt8(ascii: "0")...UInt8(ascii: "7")
        var bytes: [UInt8] = []
        var i = 0
        while i < raw.count {
            if raw[i] == UInt8(ascii: "\\"), i + 3 < raw.count, raw[(i + 1)...(i + 3)].allSatisfy(octal.contains) {
                let value = raw[(i + 1)...(i + 3)].reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                bytes.append(UInt8(truncatingIfNeeded: value))
                i += 4
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func blockDevice(_ path: String) -> (UInt32, UInt32)? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFBLK else { return nil }
        let dev = UInt64(st.st_rdev)
        // glibc's major()/minor() encoding.
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
        return (major, minor)
    }

    /// libvirt reverses this list to show mount order, so it goes out last-mounted
    /// first, like qemu-ga's. "disk" must be present; an entry in it would need
    /// a full PCI address for libvirt to accept it, so it stays empty.
    static func fsinfo() -> JSONValue {
        .array(mounts().reversed().map { mount in
            var entry: [String: JSONValue] = [
                "name": .string(mount.deviceName), "mountpoint": .string(mount.mountpoint),
                "type": .string(mount.type), "disk": [],
            ]
            var fs = statvfs()
            if statvfs(mount.mountpoint, &fs) == 0 {
                // As df computes them: "total" is what non-root users can reach.
                let blockSize = UInt64(fs.f_frsize)
                let usedBlocks = UInt64(fs.f_blocks) - min(UInt64(fs.f_bfree), UInt64(fs.f_blocks))
                entry["used-bytes"] = .int(Int64(clamping: usedBlocks * blockSize))
                entry["total-bytes"] = .int(Int64(clamping: (usedBlocks + UInt64(fs.f_bavail)) * blockSize))
            }
            return .object(entry)
        })
    }
}
