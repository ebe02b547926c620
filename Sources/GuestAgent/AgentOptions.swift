import AgentWire
import Glibc

struct AgentOptions {
    var channel = AgentProtocol.channelName
    var device: String?
    /// Also serve the qemu-guest-agent protocol on org.qemu.guest_agent.0.
    var qga = false
    /// Public keys (files) whose signatures on agent packages this agent accepts.
    var trustKeyFiles: [String] = []
    /// Where partial upgrade downloads wait.
    var stateDirectory = "/var/lib/vigil-agent"
    /// Set when this process is a new build on trial: confirm the handshake here, then exit.
    var upgradeTrialFD: Int32?
    /// The package checker run during upgrades (default: next to this binary).
    var verifier: String?
    static let defaultTrustKey = "/etc/vigil/agent-trust.pub"

    /// `vigil-agent-verify` in the running binary's directory.
    static func defaultVerifier() -> String {
        guard let resolved = realpath("/proc/self/exe", nil) else { return "/usr/bin/vigil-agent-verify" }
        let path = String(cString: resolved)
        free(resolved)
        return String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) + "/vigil-agent-verify"
    }
}
