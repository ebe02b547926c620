import FoundationEssentials

/// Encodes and decodes agent messages as single JSON lines (vigild's side;
/// the agent uses the Foundation-free `WireCodec`, which writes the same bytes).
public enum AgentCodec {
    public typealias DecodeError = AgentCodecError

    public static func encode(_ message: AgentMessage) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // base64 upgrade chunks: "\/" would double their size
        // Encoding our own value types cannot fail.
        let data = (try? encoder.encode(message)) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
    }

    public static func decode(_ line: [UInt8]) throws(DecodeError) -> AgentMessage {
        do {
            return try JSONDecoder().decode(AgentMessage.self, from: Data(line))
        } catch {
            throw .notJSON(String(describing: error).prefix(200).description)
        }
    }
}
