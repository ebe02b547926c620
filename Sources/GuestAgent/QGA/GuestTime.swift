import AgentWire
import Glibc

/// guest-get-time, guest-set-time and guest-get-timezone.
enum GuestTime {
    static func nowNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// With a time: set the clock to it. Without: set it from the RTC, which
    /// the hypervisor keeps right; this is what `virsh domtime --sync` asks
    /// for after a resume or a migration.
    static func set(nanoseconds: Int64?) throws(QGAError) {
        let ns: Int64
        if let nanoseconds { ns = nanoseconds } else { ns = try readRTC() * 1_000_000_000 }
        var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        guard clock_settime(CLOCK_REALTIME, &ts) == 0 else {
            throw .system("Failed to set time", errno: errno)
        }
    }

    /// _IOR('p', 0x09, struct rtc_time): struct rtc_time is nine ints.
    static let rtcReadTime: UInt = 0x8024_7009

    /// Seconds since the epoch according to the RTC, which QEMU keeps in UTC.
    static func readRTC(path: String = "/dev/rtc0") throws(QGAError) -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("Cannot open \(path)", errno: errno) }
        defer { close(fd) }
        var fields = [Int32](repeating: 0, count: 9)
        // Sound: the buffer is exactly the 36 bytes of struct rtc_time the ioctl writes.
        let rc = fields.withUnsafeMutableBytes { buf in
            buf.baseAddress.map { ioctl(fd, rtcReadTime, $0) } ?? -1
        }
        guard rc == 0 else { throw .system("Cannot read the RTC", errno: errno) }
        // rtc_time's fields are struct tm's first nine, in the same order.
        var t = tm()
        t.tm_sec = fields[0]
        t.tm_min = fields[1]
        t.tm_hour = fields[2]
        t.tm_mday = fields[3]
        t.tm_mon = fields[4]
        t.tm_year = fields[5]
        let seconds = timegm(&t)
        guard seconds >= 0 else { throw QGAError("The RTC holds an invalid time") }
        return Int64(seconds)
    }

    /// Abbreviated zone name (e.g. "CET") and seconds east of UTC, now.
    static func timezone() -> JSONValue {
        tzset()
        var now = time(nil)
        var local = tm()
        guard localtime_r(&now, &local) != nil else { return ["zone": "UTC", "offset": 0] }
        let zone = local.tm_zone.map { String(cString: $0) } ?? "UTC"
        return ["zone": .string(zone), "offset": .int(Int64(local.tm_gmtoff))]
    }
}
