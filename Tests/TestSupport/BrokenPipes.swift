import Glibc

/// The test process writes to sockets and pipes whose other end may be gone:
/// a fake guest to a socket vigild closed (a hostile one on purpose), the
/// rig to a host it just killed, a child's stdin after it exited. Such a
/// write must fail that test, not kill the whole run with SIGPIPE, so every
/// entry point of the test support calls `ignore()` first.
public enum BrokenPipes {
    private static let ignored: Void = { signal(SIGPIPE, SIG_IGN) }()

    public static func ignore() { _ = ignored }
}
