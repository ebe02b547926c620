import Core

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
    static let defaultTrustKey = "/etc/vigil/agent-trust.pub"
}
