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
            throw .refusing(error)
        }
    }
}

/// Why a line is not a message (either codec).
public enum AgentCodecError: Error, Equatable, Sendable {
    case notJSON(String)

    /// A short reason for a decoder's error. Not `String(describing:)`:
    /// DecodingError's description walks its whole context by reflection,
    /// which a guest sending garbage made vigild do for every line (bench/fuzz).
    public static func refusing(_ error: any Error) -> AgentCodecError {
        let context: DecodingError.Context
        switch error {
        case let e as JSONParser.Error: return .notJSON(String(e.description.prefix(200)))
        case DecodingError.dataCorrupted(let c), DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c): context = c
        case DecodingError.keyNotFound(let key, let c): return .notJSON("no '\(key.stringValue.prefix(64))' at \(path(c))")
        default: return .notJSON("not a message")
        }
        return .notJSON("\(context.debugDescription.prefix(120)) at \(path(context))")
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.isEmpty ? "top level" : context.codingPath.map { String($0.stringValue.prefix(32)) }.joined(separator: ".")
    }
}
