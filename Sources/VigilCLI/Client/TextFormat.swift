import FoundationEssentials
import Glibc

/// The few text helpers the CLI needs, without Foundation's NSString layer
/// and ICU (FoundationEssentials only): the CLI starts in a few
/// milliseconds, and is run by scripts in loops.
enum TextFormat {
    /// `v` with `places` decimals, as printf's %.Nf gives it.
    static func fixed(_ v: Double, places: Int) -> String {
        guard v.isFinite else { return "\(v)" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = withVaList([Int32(places), v]) { vsnprintf(&buffer, 64, "%.*f", $0) }
        return n > 0 ? String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "\(v)"
    }

    /// Local time as "yyyy-MM-dd HH:mm:ss" (and ".SSS" with `millis`).
    /// `30s`, `10m`, `2h`, `1d` in seconds; nil for anything else.
    static func durationSeconds(_ text: String) -> Double? {
        guard let unit = text.last, let n = Double(text.dropLast()), n >= 0 else { return nil }
        return switch unit {
        case "s": n
        case "m": n * 60
        case "h": n * 3600
        case "d": n * 86400
        default: nil
        }
    }

    static func localTime(_ seconds: Double, millis: Bool = false) -> String {
        var t = time_t(seconds.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, 32, "%Y-%m-%d %H:%M:%S", &parts)
        var text = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if millis {
            let ms = min(Int((seconds - seconds.rounded(.down)) * 1000), 999)
            text += "." + String(String(ms + 1000).dropFirst())
        }
        return text
    }

    /// Writes a line to standard error (progress, not output).
    static func stderrLine(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

extension String {
    /// Percent-escapes every byte but RFC 3986's unreserved ones: safe in a
    /// path segment and in a query value (VM names may hold spaces, '&', '/').
    var percentEscaped: String {
        let hex = Array("0123456789ABCDEF".unicodeScalars)
        var out = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    /// Without leading and trailing characters in `set` (blanks by default).
    func trimmed(_ set: Set<Character> = [" ", "\t"]) -> String {
        String(drop(while: set.contains).reversed().drop(while: set.contains).reversed())
    }
}
