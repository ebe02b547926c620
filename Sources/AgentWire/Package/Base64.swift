/// Standard base64 (RFC 4648, padded), as Foundation's `Data(base64Encoded:)`
/// reads it by default: no whitespace, no missing padding.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            let last = i + 4 == chars.count
            let pad = last ? (chars[i + 3] == UInt8(ascii: "=") ? (chars[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0) : 0
            var quad: UInt32 = 0
            for j in 0..<4 {
                let v: UInt8 = j >= 4 - pad ? 0 : values[Int(chars[i + j])]
                guard v != 0xFF else { return nil }
                quad = quad << 6 | UInt32(v)
            }
            out.append(UInt8(truncatingIfNeeded: quad >> 16))
            if pad < 2 { out.append(UInt8(truncatingIfNeeded: quad >> 8)) }
            if pad < 1 { out.append(UInt8(truncatingIfNeeded: quad)) }
            i += 4
        }
        return out
    }

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var i = 0
        while i < input.count {
            let n = min(3, input.count - i)
            var triple = UInt32(input[i]) << 16
            if n > 1 { triple |= UInt32(input[i + 1]) << 8 }
            if n > 2 { triple |= UInt32(input[i + 2]) }
            for j in 0..<4 {
                out.append(j <= n ? alphabet[Int(triple >> (18 - 6 * j) & 0x3F)] : UInt8(ascii: "="))
            }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
