import AgentWire
import FuzzSupport

// vigild's decoder of the agent channel (AgentCodec: JSONDecoder) against the
// agent's own (WireCodec: JSONParser): both decode a line to the same
// message, or both refuse it. The one documented difference (WireCodecTests):
// the agent is stricter about string content (invalid UTF-8, raw control
// characters, bad escapes anywhere in the line), about numbers (malformed
// ones anywhere, leading zeros included: JSONDecoder checks only the numbers
// it reads; fractions it truncates) and about nesting (JSONParser.maxDepth, where
// JSONDecoder allows 512); it is never the more lenient one. Whatever decodes
// must encode to the same bytes with both codecs and decode back to itself.
// The input is lines, as the framer splits them (FuzzAgentChannel fuzzes the framing and vigild's
// decoder alone, at the speed a guest's flood costs vigild).
// AgentCodec.swift and the Exports.swift that re-exports AgentWire to it are
// Core's own files (symlinks beside this one): no swift-crypto in a fuzz build.
@main
enum FuzzCodecAgreement {
    static func main() {
        FuzzMain.run { bytes in
            // Each line as the framer hands it on: never empty, no delimiter inside.
            let input = bytes.bindMemory(to: UInt8.self)
            for line in input.split(whereSeparator: { $0 == UInt8(ascii: "\n") || $0 == LineFramer.syncByte }) {
                agree(Array(line))
            }
        }
    }

    static func agree(_ line: [UInt8]) {
        let host = try? AgentCodec.decode(line), agent = try? WireCodec.decode(line)
        if let agent {
            precondition(agent == host, "WireCodec decoded a line AgentCodec reads differently or refuses")
        } else if host != nil {
            precondition(hasBadStringContent(line) || hasFraction(line) || hasInvalidNumber(line) || nesting(line) >= JSONParser.maxDepth,
                         "AgentCodec accepts a line WireCodec refuses")
        }
        // AgentCodec reads these two without JSONDecoder: the agent's full parser must agree.
        if let id = HotPath.syncID(line) {
            precondition(agent == .sync(.init(id: id)), "HotPath read a sync line differently")
        }
        if let (seq, uptimeMs) = HotPath.heartbeatFields(line) {
            precondition(agent == .heartbeat(.init(seq: seq, uptimeMs: uptimeMs)), "HotPath read a heartbeat line differently")
        }
        guard let message = host else { return }
        let encoded = AgentCodec.encode(message)
        precondition(encoded.last == UInt8(ascii: "\n") && !encoded.dropLast().contains(UInt8(ascii: "\n")), "an encoded message is not one line")
        precondition(encoded == WireCodec.encode(message), "the codecs encode a message differently")
        precondition((try? AgentCodec.decode(Array(encoded.dropLast()))) == message, "round trip changed a message")
    }

    /// The deepest nesting of arrays and objects (brackets outside strings).
    static func nesting(_ line: [UInt8]) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for b in line {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1; deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// A number token, outside strings, that is not a JSON number ("01",
    /// "1-2", "1.e5", "-"): JSONDecoder checks only the numbers it reads.
    static func hasInvalidNumber(_ line: [UInt8]) -> Bool {
        func isNumberByte(_ b: UInt8) -> Bool {
            (0x30...0x39).contains(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
        }
        var i = 0, inString = false, escaped = false
        while i < line.count {
            let b = line[i]
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if b == UInt8(ascii: "\"") { inString = true; i += 1; continue }
            guard b == UInt8(ascii: "-") || (0x30...0x39).contains(b) else { i += 1; continue }
            var end = i
            while end < line.count, isNumberByte(line[end]) { end += 1 }
            if !isJSONNumber(line[i..<end]) { return true }
            i = end
        }
        return false
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    static func isJSONNumber(_ t: ArraySlice<UInt8>) -> Bool {
        var i = t.startIndex
        func digits() -> Int { let s = i; while i < t.endIndex, (0x30...0x39).contains(t[i]) { i += 1 }; return i - s }
        if i < t.endIndex, t[i] == UInt8(ascii: "-") { i += 1 }
        let first = i
        let n = digits()
        guard n > 0, !(n > 1 && t[first] == UInt8(ascii: "0")) else { return false }
        if i < t.endIndex, t[i] == UInt8(ascii: ".") { i += 1; guard digits() > 0 else { return false } }
        if i < t.endIndex, t[i] == UInt8(ascii: "e") || t[i] == UInt8(ascii: "E") {
            i += 1
            if i < t.endIndex, t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == t.endIndex
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
                guard let code = hex4(line, at: i + 2) else { return true }
                // A surrogate must be a high one with its low one right after
                // (JSONDecoder takes a lone one: fuzz/regressions/…/lone-high-surrogate).
                if (0xDC00..<0xE000).contains(code) { return true }
                if (0xD800..<0xDC00).contains(code) {
                    guard i + 7 < line.count, line[i + 6] == UInt8(ascii: "\\"), line[i + 7] == UInt8(ascii: "u"),
                          let low = hex4(line, at: i + 8), (0xDC00..<0xE000).contains(low) else { return true }
                    i += 6
                }
                i += 6
            } else {
                guard Array("\"\\/bfnrt".utf8).contains(line[i + 1]) else { return true }
                i += 2
            }
        }
        return false
    }

    /// The four hex digits at `at`, if there are four.
    static func hex4(_ line: [UInt8], at: Int) -> UInt32? {
        guard at + 3 < line.count, line[at...(at + 3)].allSatisfy(isHex) else { return nil }
        return line[at...(at + 3)].reduce(0) { $0 << 4 | UInt32(hexValue($1)) }
    }

    static func hexValue(_ b: UInt8) -> UInt8 {
        b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10
    }

    static func isHex(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
    }
}
