import Glibc

/// guest-fsfreeze-*: FIFREEZE/FITHAW on each real mounted filesystem, so a
/// host snapshot sees consistent disks. Kept apart from the server so tests
/// can drive the protocol without freezing the machine they run on.
enum GuestFreeze {
    /// _IOWR('X', 119, int) and _IOWR('X', 120, int) from linux/fs.h.
    static let fiFreeze: UInt = 0xC004_5877
    static let fiThaw: UInt = 0xC004_5878

    /// Freezes the given mountpoints, or every real filesystem. Children are
    /// frozen before their parents (reverse mount order); a failure thaws
    /// what was frozen and reports the error.
    static func freeze(mountpoints: [String]?) throws(QGAError) -> Int {
        var mounts = GuestFilesystems.mounts()
        if let mountpoints {
            for path in mountpoints where !mounts.contains(where: { $0.mountpoint == path }) {
                throw QGAError("Mount point '\(path)' is not a mounted filesystem that can be frozen")
            }
            mounts = mounts.filter { mountpoints.contains($0.mountpoint) }
        }
        var count = 0
        for mount in mounts.reversed() {
            switch ioctlOn(mount.mountpoint, fiFreeze) {
            case 0:
                count += 1
            case EOPNOTSUPP, EBUSY:
                // No freeze support, or the same filesystem mounted twice and already frozen.
                continue
            case let code:
                _ = thaw()
                throw .system("Failed to freeze \(mount.mountpoint)", errno: code)
            }
        }
        return count
    }

    /// Thaws every real filesystem; returns how many were frozen.
    static func thaw() -> Int {
        GuestFilesystems.mounts().reduce(0) { count, mount in
            // EINVAL means "was not frozen".
            count + (ioctlOn(mount.mountpoint, fiThaw) == 0 ? 1 : 0)
        }
    }

    /// Runs the ioctl on the filesystem's root directory; 0 or an errno.
    private static func ioctlOn(_ mountpoint: String, _ request: UInt) -> Int32 {
        let fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        return ioctl(fd, request, 0) == 0 ? 0 : errno
    }
}
