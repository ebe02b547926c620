#if canImport(Glibc)
import Glibc
#endif

/// A strict RFC 8259 parser for one JSON text (the agent's input is hostile
/// in principle, so no extensions): depth-limited, exact integers, UTF-8
/// checked. Foundation-free so the resident agent does not map Foundation.
public struct JSONParser {
    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Deeper nesting is refused (a recursive parser must not overflow the stack).
    public static let maxDepth = 64

    private let bytes: [UInt8]
    private var at = 0

    public static func parse<C: Collection>(_ bytes: C) throws(Error) -> JSONValue where C.Element == UInt8 {
        var parser = JSONParser(bytes: Array(bytes))
        // A UTF-8 byte order mark first is skipped, as JSONDecoder does.
        if parser.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.at = 3 }
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.at == parser.bytes.count else { throw parser.error("unexpected data after the value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ reason: String) -> Error { Error(offset: at, reason: reason) }

    private var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

    private mutating func skipSpace() {
        while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { at += 1 }
    }

    private mutating func expect(_ word: String) throws(Error) {
        for b in word.utf8 {
            guard peek == b else { throw error("expected '\(word)'") }
            at += 1
        }
    }

    private mutating func value(depth: Int) throws(Error) -> JSONValue {
        guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth)") }
        switch peek {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case .some(let b) where b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39): return try number()
        case nil: throw error("unexpected end of input")
        default: throw error("unexpected character")
        }
    }

    private mutating func object(depth: Int) throws(Error) -> JSONValue {
        at += 1
        var members: [String: JSONValue] = [:]
        skipSpace()
        if peek == UInt8(ascii: "}") { at += 1; return .object(members) }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let key = try string()
            skipSpace()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
            at += 1
            skipSpace()
            // A repeated name: the first one wins (as with JSONDecoder).
            let member = try value(depth: depth + 1)
            if members[key] == nil { members[key] = member }
            skipSpace()
            switch peek {
            case UInt8(ascii: ","):
                at += 1
                // One trailing comma is tolerated, as JSONDecoder tolerates it.
                skipSpace()
                if peek == UInt8(ascii: "}") { at += 1; return .object(members) }
            case UInt8(ascii: "}"): at += 1; return .object(members)
            default: throw error("expected ',' or '}'")
            }
        }
    }

    private mutating func array(depth: Int) throws(Error) -> JSONValue {
        at += 1
        var items: [JSONValue] = []
        skipSpace()
        if peek == UInt8(ascii: "]") { at += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            switch peek {
            case UInt8(ascii: ","):
                at += 1
                skipSpace()
                if peek == UInt8(ascii: "]") { at += 1; return .array(items) }
            case UInt8(ascii: "]"): at += 1; return .array(items)
            default: throw error("expected ',' or ']'")
            }
        }
    }

    private mutating func string() throws(Error) -> String {
        at += 1
        // Most strings have no escape: made straight from the input, no copy.
        let start = at
        while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\"), bytes[at] >= 0x20 { at += 1 }
        if at < bytes.count, bytes[at] == UInt8(ascii: "\"") {
            at += 1
            guard let text = String(validating: bytes[start..<(at - 1)], as: UTF8.self) else { throw error("string is not valid UTF-8") }
            return text
        }
        var out = Array(bytes[start..<at])
        while true {
            guard let b = peek else { throw error("unterminated string") }
            at += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let text = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard let e = peek else { throw error("unterminated escape") }
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): out.append(contentsOf: try unicodeEscape())
                default: throw error("invalid escape")
                }
            case 0..<0x20:
                throw error("control character in string")
            default:
                out.append(b)
            }
        }
    }

    /// After `\u`: four hex digits, and a second escape for a surrogate pair.
    private mutating func unicodeEscape() throws(Error) -> [UInt8] {
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code) {
            guard peek == UInt8(ascii: "\\") else { throw error("lone surrogate") }
            at += 1
            guard peek == UInt8(ascii: "u") else { throw error("lone surrogate") }
            at += 1
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(code) {
            throw error("lone surrogate")
        }
        guard let scalar = Unicode.Scalar(code) else { throw error("invalid code point") }
        return Array(String(Character(scalar)).utf8)
    }

    private mutating func hex4() throws(Error) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let b = peek else { throw error("short \\u escape") }
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x41 + 10
            case 0x61...0x66: d = b - 0x61 + 10
            default: throw error("bad hex digit in \\u escape")
            }
            v = v << 4 | UInt32(d)
            at += 1
        }
        return v
    }

    /// Integers come out exact (`.int`, or `.uint` above Int64.max). Like
    /// JSONDecoder, a literal with a fraction or exponent whose value is whole
    /// counts as that integer ("2.0", "1.5e1", "12345678901234567.0"); unlike
    /// it, a non-zero fraction is never truncated away ("1.00000000000000000001").
    /// Anything else is a `.double`, which integer fields refuse.
    private mutating func number() throws(Error) -> JSONValue {
        let start = at
        let negative = peek == UInt8(ascii: "-")
        if negative { at += 1 }
        guard let first = peek, first >= 0x30 && first <= 0x39 else { throw error("expected a digit") }
        let intStart = at
        at += 1
        if first == 0x30, let b = peek, b >= 0x30 && b <= 0x39 { throw error("leading zero") }
        skipDigits()
        var digits = Array(bytes[intStart..<at])
        var fractionDigits = 0
        var exponent = 0
        var integral = true
        if peek == UInt8(ascii: ".") {
            integral = false
            at += 1
            let fracStart = at
            guard skipDigits() > 0 else { throw error("expected a digit after '.'") }
            digits += bytes[fracStart..<at]
            fractionDigits = at - fracStart
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            integral = false
            at += 1
            var sign = 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
                if peek == UInt8(ascii: "-") { sign = -1 }
                at += 1
            }
            let expStart = at
            guard skipDigits() > 0 else { throw error("expected a digit in the exponent") }
            // Saturated: beyond this the double is 0 or infinite anyway.
            exponent = sign * bytes[expStart..<at].reduce(0) { min($0 * 10 + Int($1 - 0x30), 100_000) }
        }
        let text = String(decoding: bytes[start..<at], as: UTF8.self)
        if integral {
            if let i = Int64(text) { return .int(i) }
            if let u = UInt64(text) { return .uint(u) }
        }
        // Overflow, or underflow to zero: no usable value. NaN, which every typed
        // decode refuses (JSONDecoder refuses such a number only where it is read).
        guard let d = Double(text), d.isFinite, d != 0 || digits.allSatisfy({ $0 == 0x30 }) else { return .double(.nan) }
        if !integral && d.rounded(.towardZero) == d && d > -0x1p63 && d < 0x1p64 {
            if let exact = Self.wholeInteger(digits: digits, shift: exponent - fractionDigits, negative: negative) {
                return exact
            }
        }
        return .double(d)
    }

    /// `digits` × 10^`shift` when that is whole and fits an Int64 or UInt64.
    private static func wholeInteger(digits: [UInt8], shift: Int, negative: Bool) -> JSONValue? {
        var kept = digits
        if shift >= 0 {
            guard shift <= 20 else { return digits.allSatisfy { $0 == 0x30 } ? .int(0) : nil }
            kept += [UInt8](repeating: 0x30, count: shift)
        } else {
            let dropped = min(-shift, kept.count)
            guard kept.suffix(dropped).allSatisfy({ $0 == 0x30 }) else { return nil }
            kept = Array(kept.dropLast(dropped))
        }
        while kept.count > 1, kept.first == 0x30 { kept.removeFirst() }
        let text = (negative ? "-" : "") + (kept.isEmpty ? "0" : String(decoding: kept, as: UTF8.self))
        if let i = Int64(text) { return .int(i) }
        if let u = UInt64(text) { return .uint(u) }
        return nil
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = at
        while let b = peek, b >= 0x30 && b <= 0x39 { at += 1 }
        return at - start
    }
}
