// The wire types live in the Foundation-free AgentWire (shared with the
// guest agent); everything that imports Core sees them as before.
@_exported import AgentWire
