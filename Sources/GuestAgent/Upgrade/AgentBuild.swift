import CGuestSys
import Glibc

/// Facts about this agent build.
enum AgentBuild {
    /// From the version marker in the binary (see guest_sys.c).
    static let version = String(cString: vigil_agent_version())

    static let arch: String = {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }()
}
