/// Hand-rolled encoding and decoding of the messages that make up nearly all
/// channel traffic (sync pings, heartbeats), in exactly the compact,
/// sorted-key form `AgentCodec` produces. JSONDecoder costs more than the
/// channel itself in a TCG guest; anything not in this exact form goes
/// through `AgentCodec` as usual.
public enum HotPath {
    private static let syncPrefix = Array(#"{"body":{"id":"#.utf8)
    private static let syncSuffix = Array(#"},"type":"sync"}"#.utf8)

    private static let heartbeatPrefix = Array(#"{"body":{"seq":"#.utf8)
    private static let heartbeatMiddle = Array(#","uptimeMs":"#.utf8)
    private static let heartbeatSuffix = Array(#"},"type":"heartbeat"}"#.utf8)

    /// The id of a compact `sync` message, or nil.
    public static func syncID(_ line: [UInt8]) -> UInt64? {
        guard line.count > syncPrefix.count + syncSuffix.count, line.starts(with: syncPrefix),
              line.suffix(syncSuffix.count).elementsEqual(syncSuffix) else { return nil }
        return number(line[syncPrefix.count..<(line.count - syncSuffix.count)])
    }

    /// The sequence number and uptime of a compact `heartbeat` message, or nil.
    public static func heartbeatFields(_ line: [UInt8]) -> (seq: UInt64, uptimeMs: UInt64)? {
        guard line.count > heartbeatPrefix.count + heartbeatMiddle.count + heartbeatSuffix.count,
              line.starts(with: heartbeatPrefix), line.suffix(heartbeatSuffix.count).elementsEqual(heartbeatSuffix) else { return nil }
        let fields = line[heartbeatPrefix.count..<(line.count - heartbeatSuffix.count)]
        guard let comma = fields.firstIndex(of: UInt8(ascii: ",")),
              fields[comma...].starts(with: heartbeatMiddle),
              let seq = number(fields[..<comma]),
              let uptime = number(fields[(comma + heartbeatMiddle.count)...]) else { return nil }
        return (seq, uptime)
    }

    /// A JSON integer as the agent writes it: digits, no leading zero (JSON
    /// has none), at most 19 of them so it fits a UInt64; nil otherwise.
    private static func number(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 19, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              digits.first != 48 || digits.count == 1 else { return nil }
        return digits.reduce(0) { $0 * 10 + UInt64($1 - 48) }
    }

    /// A compact `sync` line, newline included.
    public static func sync(_ id: UInt64) -> [UInt8] {
        syncPrefix + Array(String(id).utf8) + syncSuffix + [UInt8(ascii: "\n")]
    }

    /// A compact `heartbeat` line, newline included.
    public static func heartbeat(seq: UInt64, uptimeMs: UInt64) -> [UInt8] {
        Array(#"{"body":{"seq":\#(seq),"uptimeMs":\#(uptimeMs)},"type":"heartbeat"}"#.utf8) + [UInt8(ascii: "\n")]
    }
}
