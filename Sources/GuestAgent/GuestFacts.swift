import Glibc

/// Facts about the guest for the hello message, read from procfs and uname.
enum GuestFacts {
    static func readFile(_ path: String, max: Int = 4096) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: max)
        let n = read(fd, &buf, max)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }

    static var osName: String {
        guard let text = readFile("/etc/os-release") ?? readFile("/usr/lib/os-release") else { return "Linux" }
        for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return String(line.dropFirst("PRETTY_NAME=".count)).trimmingQuotes
        }
        return "Linux"
    }

    static var kernel: String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }

    static var hostname: String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static var bootID: String {
        (readFile("/proc/sys/kernel/random/boot_id") ?? "").filter { !$0.isWhitespace }
    }

    /// Time since boot, including time suspended.
    static var uptimeMs: UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

extension String {
    var trimmingQuotes: String {
        var s = Substring(self)
        while s.first == "\"" || s.first == "'" { s = s.dropFirst() }
        while s.last == "\"" || s.last == "'" { s = s.dropLast() }
        return String(s)
    }
}
