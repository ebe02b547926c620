import CLibvirt
import Glibc
import Synchronization

/// libvirt's default event loop, run on a dedicated thread for the life of the
/// process. It must be registered before any connection that wants events or
/// keepalive is opened, so `Connection.open` starts it implicitly.
public enum EventLoop {
    private static let state = Mutex<Result<Void, LibvirtError>?>(nil)

    /// Registers the default implementation and starts its thread (once).
    public static func start() throws(LibvirtError) {
        let result: Result<Void, LibvirtError> = state.withLock { current in
            if let current { return current }
            _ = ErrorReporting.silenced
            // libvirt's remote driver writes to its sockets with plain
            // write(): a peer host that dies mid-call would otherwise kill
            // the whole process with SIGPIPE instead of failing that call.
            signal(SIGPIPE, SIG_IGN)
            guard virEventRegisterDefaultImpl() == 0 else {
                let failure = Result<Void, LibvirtError>.failure(.capture("register libvirt event loop"))
                current = failure
                return failure
            }
            var thread = pthread_t()
            // The loop never returns, so nothing needs passing in or joining.
            let rc = pthread_create(&thread, nil, { _ in
                while true {
                    if virEventRunDefaultImpl() < 0 { virResetLastError() }
                }
            }, nil)
            if rc != 0 {
                let failure = Result<Void, LibvirtError>.failure(
                    LibvirtError(code: .internalError, domain: .none,
                                 message: "pthread_create failed: \(rc)", operation: "start libvirt event loop"))
                current = failure
                return failure
            }
            pthread_detach(thread)
            current = .success(())
            return .success(())
        }
        try result.get()
    }
}
