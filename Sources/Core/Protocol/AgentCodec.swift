import FoundationEssentials

/// Encodes and decodes agent messages as single JSON lines (vigild's side;
/// the agent uses the Foundation-free `WireCodec`, which writes the same bytes).
public enum AgentCodec {
    public typealias DecodeError = AgentCodecError

    // One coder each, configured once and never changed: a JSONDecoder set up
    // per line cost more than the decoding itself (bench/fuzz).
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // base64 upgrade chunks: "\/" would double their size
        return encoder
    }()
    private static let decoder = JSONDecoder()

    public static func encode(_ message: AgentMessage) -> [UInt8] {
        // Encoding our own value types cannot fail.
        let data = (try? encoder.encode(message)) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
    }

    public static func decode(_ line: [UInt8]) throws(DecodeError) -> AgentMessage {
        // Nearly all traffic, heartbeats and syncs in the agent's own compact
        // form, is read without JSONDecoder (same result: FuzzAgentChannel).
        if let (seq, uptimeMs) = HotPath.heartbeatFields(line) { return .heartbeat(.init(seq: seq, uptimeMs: uptimeMs)) }
        if let id = HotPath.syncID(line) { return .sync(.init(id: id)) }
        do {
            return try decoder.decode(AgentMessage.self, from: Data(line))
        } catch {
            throw .refusing(error)
        }
    }
}
