/// The agent's side of `AgentCodec`: the same `Codable` messages as JSON
/// lines, through `JSONParser`/`JSONValueDecoder` and `JSONValueEncoder`
/// instead of Foundation (whose mere presence costs the resident agent ~2 MiB
/// of RSS; see docs/BENCHMARKS.md). The lines are byte for byte what
/// `AgentCodec` writes, and it reads everything `AgentCodec` reads.
public enum WireCodec {
    public static func encode(_ message: AgentMessage) -> [UInt8] {
        // Encoding our own value types cannot fail.
        ((try? JSONValueEncoder.encode(message))?.jsonBytes ?? []) + [UInt8(ascii: "\n")]
    }

    public static func decode<C: Collection>(_ line: C) throws(AgentCodecError) -> AgentMessage where C.Element == UInt8 {
        do {
            return try JSONValueDecoder.decode(AgentMessage.self, from: try JSONParser.parse(line))
        } catch {
            throw .notJSON(String(describing: error).prefix(200).description)
        }
    }
}

/// Why a line is not a message (either codec).
public enum AgentCodecError: Error, Equatable, Sendable {
    case notJSON(String)
}
