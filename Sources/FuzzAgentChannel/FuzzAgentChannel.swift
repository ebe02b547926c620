import AgentWire
import FuzzSupport

// The host side of the agent channel: whatever bytes a guest writes go
// through LineFramer and then AgentCodec (vigild's decoder, JSONDecoder), and
// the agent's own WireCodec must agree with it: both decode a line to the same
// message, or both refuse it. The one documented difference (WireCodecTests):
// the agent is stricter about string content (invalid UTF-8, raw control
// characters, bad escapes anywhere in the line) and about fractions that
// JSONDecoder truncates; it is never the more lenient one. Whatever decodes
// must encode to the same bytes with both codecs and decode back to itself.
@main
enum FuzzAgentChannel {
    static let maxLine = 4096

    static func main() {
        FuzzMain.run { bytes in check(bytes.bindMemory(to: UInt8.self)) }
    }

    static func check(_ bytes: UnsafeBufferPointer<UInt8>) {
        var framer = LineFramer(maxLineBytes: maxLine)
        // Two feeds, so chunk boundaries are exercised too.
        let cut = bytes.count / 3
        var outputs = framer.feed(UnsafeBufferPointer(rebasing: bytes[0..<cut]))
        outputs += framer.feed(UnsafeBufferPointer(rebasing: bytes[cut...]))
        for case .line(let line) in outputs {
            precondition(!line.isEmpty && line.count <= maxLine, "framer returned an empty or over-long line")
            precondition(!line.contains(UInt8(ascii: "\n")) && !line.contains(LineFramer.syncByte), "framer leaked a delimiter")
            precondition(line.last != UInt8(ascii: "\r"), "framer kept a CR")
            agree(line)
        }
    }

    static func agree(_ line: [UInt8]) {
        let host = try? AgentCodec.decode(line), agent = try? WireCodec.decode(line)
        if let agent {
            precondition(agent == host, "WireCodec decoded a line AgentCodec reads differently or refuses")
        } else if host != nil {
            precondition(hasBadStringContent(line) || hasFraction(line), "AgentCodec accepts a line WireCodec refuses")
        }
        if let id = HotPath.syncID(line) {
            precondition(host == .sync(.init(id: id)), "HotPath read a sync line differently")
        }
        guard let message = host else { return }
        let encoded = AgentCodec.encode(message)
        precondition(encoded == WireCodec.encode(message), "the codecs encode a message differently")
        precondition((try? AgentCodec.decode(Array(encoded.dropLast()))) == message, "round trip changed a message")
    }

    /// A number written with a fraction or exponent.
    static func hasFraction(_ line: [UInt8]) -> Bool {
        zip(line, line.dropFirst()).contains { a, b in
            (0x30...0x39).contains(a) && (b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E"))
        }
    }

    /// Invalid UTF-8, a raw control character or an invalid escape anywhere.
    static func hasBadStringContent(_ line: [UInt8]) -> Bool {
        if String(validating: line, as: UTF8.self) == nil || line.contains(where: { $0 < 0x20 }) { return true }
        var i = 0
        while i < line.count {
            guard line[i] == UInt8(ascii: "\\") else { i += 1; continue }
            guard i + 1 < line.count else { return true }
            if line[i + 1] == UInt8(ascii: "u") {
                guard i + 5 < line.count, line[(i + 2)...(i + 5)].allSatisfy(isHex) else { return true }
                i += 6
            } else {
                guard Array("\"\\/bfnrt".utf8).contains(line[i + 1]) else { return true }
                i += 2
            }
        }
        return false
    }

    static func isHex(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
    }
}
