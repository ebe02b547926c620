import CLibvirt
import Glibc

/// The qemu-guest-agent through libvirt: libvirt owns the guest's
/// `org.qemu.guest_agent.0` channel (it syncs each command with the agent
/// first), so vigild asks through it instead of opening the socket itself
/// and taking it from libvirt's own tools (domtime, guestinfo, fsfreeze).
extension Domain {
    /// Sends one agent command (`{"execute": …}`) and returns the agent's
    /// JSON reply; fails when the agent does not answer within `timeoutSeconds`.
    public func guestAgentCommand(_ json: String, timeoutSeconds: Int32) throws(LibvirtError) -> String {
        guard let c = virDomainQemuAgentCommand(ptr, json, timeoutSeconds, 0) else {
            throw .capture("ask the guest agent of domain '\(name)':")
        }
        defer { free(c) }
        return String(cString: c)
    }
}
