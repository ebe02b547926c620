import Core
import Libvirt

/// What reconcile reads of each domain in one blocking call: its state
/// (cheap to read again) and what its definition says (cached by
/// `DomainCache`: reading it costs an XML dump and two metadata lookups).
struct DomainSnapshot: Sendable {
    let uuid: String
    let name: String
    var state: DomainStateWithReason
    let socketPath: String?
    let hasChannel: Bool
    /// A qemu-guest-agent channel (libvirt's), watched when there is no Vigil channel.
    let hasGuestAgentChannel: Bool
    let policy: ProtectionPolicy
    let hasOwnPolicy: Bool
    let settings: VMSettings
    let autostart: Bool

    /// Watched through qemu-guest-agent pings: no Vigil channel, a qemu-ga one.
    var watchesGuestAgent: Bool { !hasChannel && socketPath == nil && hasGuestAgentChannel }

    /// Both channels: qemu-ga is pinged while vigil-agent has not said hello.
    var guestAgentFallback: Bool { (hasChannel || socketPath != nil) && hasGuestAgentChannel }

    /// Which agent vigild watches in it (before any answer).
    var watchedAgent: GuestAgentKind { hasChannel || socketPath != nil ? .vigilAgent : (watchesGuestAgent ? .qemuGA : .none) }

    init(dom: Domain, defaults: ProtectionPolicy) throws {
        autostart = (try? dom.autostart) ?? false
        uuid = dom.uuid
        name = dom.name
        state = try dom.state()
        let xml = (try? dom.xml()) ?? ""
        socketPath = DomainXML.channelSocketPath(in: xml, channelName: AgentProtocol.channelName)
        hasChannel = DomainXML.hasChannel(in: xml, channelName: AgentProtocol.channelName)
        hasGuestAgentChannel = DomainXML.hasChannel(in: xml, channelName: GuestAgentPing.channelName)
        let stored = try? dom.metadata(namespaceURI: PolicyMetadata.namespaceURI)
        hasOwnPolicy = stored != nil
        policy = stored.map { PolicyMetadata.parse($0, defaults: defaults) } ?? defaults
        settings = (try? dom.metadata(namespaceURI: SettingsMetadata.namespaceURI)).map(SettingsMetadata.parse) ?? VMSettings()
    }
}
