import Core
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
        guard let dir = opendir(pstoreDirectory) else { return [] }
        defer { closedir(dir) }
        var found: [(String, AgentMessage.CrashReport)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix("dmesg-") else { continue }
            let path = "\(pstoreDirectory)/\(name)"
            guard let text = GuestFacts.readFile(path, max: 256 * 1024) else { continue }
            found.append((path, .init(source: "pstore:\(name)", excerpt: excerpt(text))))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    /// The end of the log, where the panic message and backtrace are.
    static func excerpt(_ text: String) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.count > maxExcerpt else { return text }
        return String(decoding: utf8.suffix(maxExcerpt), as: UTF8.self)
    }

    static func remove(_ path: String) { unlink(path) }
}
