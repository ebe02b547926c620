import Glibc

/// The wall clock (CLOCK_REALTIME) in nanoseconds since 1970.
public enum WallClock {
    public static func nowNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
