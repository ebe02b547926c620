import AgentWire
import Glibc

/// Finds what the kernel kept of an earlier crash in pstore (ramoops, EFI)
/// and hands each record to the host once. Records are removed after they
/// are sent, as systemd-pstore does, which also frees the backend's space.
enum CrashReports {
    static let pstoreDirectory = "/sys/fs/pstore"
    static let maxExcerpt = 4096

    /// One report covering every dmesg record present now (the host takes
    /// one report per session), and the record files it came from.
    static func pending() -> (paths: [String], report: AgentMessage.CrashReport)? {
        let records = records()
        guard !records.isEmpty else { return nil }
        let text = records.map { "--- \($0.1.source)\n\($0.1.excerpt)" }.joined(separator: "\n")
        return (records.map(\.0), .init(source: records.map(\.1.source).joined(separator: ","), excerpt: excerpt(text)))
    }

    static func records() -> [(String, AgentMessage.CrashReport)] {
        var found: [(String, AgentMessage.CrashReport)] = []
        for name in SysFiles.entries(pstoreDirectory) where name.hasPrefix("dmesg-") {
            let path = "\(pstoreDirectory)/\(name)"
            guard let text = GuestFacts.readFile(path, max: 256 * 1024) else { continue }
            found.append((path, .init(source: "pstore:\(name)", excerpt: excerpt(text))))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    /// What the host should see: from the last crash marker (the panic or
    /// oops line, then its backtrace) when there is one, else the log's end.
    static func excerpt(_ text: String) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.count > maxExcerpt else { return text }
        let markers = ["Kernel panic", "sysrq: Trigger a crash", "Oops", "BUG:"].map { Array($0.utf8) }
        var start: Int?
        for marker in markers {
            guard let at = lastIndex(of: marker, in: utf8) else { continue }
            // Back to the start of that line.
            let lineStart = utf8[..<at].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? at
            start = min(start ?? lineStart, lineStart)
        }
        if let start { return String(decoding: utf8[start...].prefix(maxExcerpt), as: UTF8.self) }
        return String(decoding: utf8.suffix(maxExcerpt), as: UTF8.self)
    }

    private static func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = haystack.count - needle.count
        while i >= 0 {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i -= 1
        }
        return nil
    }

    static func remove(_ path: String) { unlink(path) }
}
