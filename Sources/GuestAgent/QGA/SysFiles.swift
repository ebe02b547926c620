import Glibc

/// Small readers for procfs/sysfs/etc files. procfs may return a file in
/// several read() chunks, so read until EOF (bounded).
enum SysFiles {
    static func read(_ path: String, max: Int = 1 << 20) -> String? {
        bytes(path, max: max).map { String(decoding: $0, as: UTF8.self) }
    }

    /// At most `max` bytes of a file (read until EOF).
    static func bytes(_ path: String, max: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count < max {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        return Array(bytes.prefix(max))
    }

    /// The first line of a sysfs attribute, trimmed (e.g. "12345\n" -> "12345").
    static func attribute(_ path: String) -> String? {
        guard let text = read(path, max: 4096) else { return nil }
        return String(text.prefix(while: { $0 != "\n" }))
    }

    /// Entry names of a directory, without "." and "..".
    static func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Where a symlink points (not resolved further).
    static func link(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A fixed-size C char array (utsname, utmpx fields) as a String.
    static func string<T>(fromCArray value: T) -> String {
        withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
