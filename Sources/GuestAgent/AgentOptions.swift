import Core

struct AgentOptions {
    var channel = AgentProtocol.channelName
    var device: String?
}
