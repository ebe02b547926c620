/// A dotted numeric version ("0.1.10" > "0.1.9").
public struct AgentVersion: Comparable, Sendable, CustomStringConvertible {
    public let parts: [Int]
    public let description: String

    /// One to four parts, each 1–9 ASCII digits: no sign ("+1" is not 1),
    /// no empty part ("1..2"), nothing an Int would overflow on (FuzzAgentPackage).
    public init?(_ text: String) {
        var parts: [Int] = []
        for part in text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard (1...9).contains(part.count), part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            parts.append(part.reduce(0) { $0 * 10 + Int($1 - 0x30) })
        }
        guard (1...4).contains(parts.count) else { return nil }
        self.parts = parts
        description = text
    }

    public static func < (a: AgentVersion, b: AgentVersion) -> Bool {
        for i in 0..<max(a.parts.count, b.parts.count) {
            let x = i < a.parts.count ? a.parts[i] : 0, y = i < b.parts.count ? b.parts[i] : 0
            if x != y { return x < y }
        }
        return false
    }

    public static func == (a: AgentVersion, b: AgentVersion) -> Bool { !(a < b) && !(b < a) }
}
