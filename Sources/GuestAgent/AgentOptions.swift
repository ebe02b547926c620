import Core

struct AgentOptions {
    var channel = AgentProtocol.channelName
    var device: String?
    /// Also serve the qemu-guest-agent protocol on org.qemu.guest_agent.0.
    var qga = false
}
