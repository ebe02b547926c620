import Glibc

/// Sets the guest clock as vigild asks: step (clock_settime) for large
/// offsets, slew (adjtime: the kernel moves the clock by at most 0.5 ms per
/// second, never backwards) for small ones.
enum ClockControl {
    /// Returns nil on success, or why it failed.
    static func adjust(byNs offset: Int64, step: Bool) -> String? {
        if step {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let (sec, nsec) = offset.quotientAndRemainder(dividingBy: 1_000_000_000)
            var s = Int64(ts.tv_sec) &+ sec
            var n = Int64(ts.tv_nsec) + nsec
            if n < 0 { n += 1_000_000_000; s -= 1 } else if n >= 1_000_000_000 { n -= 1_000_000_000; s += 1 }
            guard s > 0 else { return "refusing to set the clock before 1970" }
            ts.tv_sec = Int(s)
            ts.tv_nsec = Int(n)
            return clock_settime(CLOCK_REALTIME, &ts) == 0 ? nil : "clock_settime: \(String(cString: strerror(errno)))"
        }
        // adjtime takes microseconds; a pending slew is replaced, not added to.
        let us = offset / 1000
        var delta = timeval(tv_sec: Int(us / 1_000_000), tv_usec: Int(us % 1_000_000))
        return adjtime(&delta, nil) == 0 ? nil : "adjtime: \(String(cString: strerror(errno)))"
    }
}
