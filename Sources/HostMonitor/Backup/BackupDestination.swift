import Core
import Foundation

/// Where backups are kept: a local directory, or a directory on a server
/// reached over SSH. Both hold the same layout (`BackupLayout`).
enum BackupDestination: Sendable, Equatable, CustomStringConvertible {
    case local(path: String)
    case ssh(user: String?, host: String, port: Int?, path: String)

    static let hint = "give a directory (/srv/backup) or ssh://[USER@]HOST[:PORT]/PATH"

    init(parsing text: String) throws {
        if text.split(separator: "/").contains("..") {
            throw APIError.badRequest("backup destination '\(text)' contains '..'", hint: Self.hint)
        }
        if text.hasPrefix("/") {
            self = .local(path: Self.normalized(text))
            return
        }
        guard text.hasPrefix("ssh://") else {
            throw APIError.badRequest("backup destination '\(text)' is neither an absolute directory nor an ssh:// URL", hint: Self.hint)
        }
        let rest = text.dropFirst("ssh://".count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw APIError.badRequest("backup destination '\(text)' names no directory on the server", hint: Self.hint)
        }
        var authority = String(rest[..<slash])
        let path = Self.normalized(String(rest[slash...]))
        var user: String?
        if let at = authority.lastIndex(of: "@") {
            user = String(authority[..<at])
            authority = String(authority[authority.index(after: at)...])
        }
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(p) else {
                throw APIError.badRequest("backup destination '\(text)' has a bad port", hint: Self.hint)
            }
            port = p
            authority = String(authority[..<colon])
        }
        let safe = { (s: String) in !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || ".-_[]:".contains($0) } }
        guard safe(authority), user.map(safe) ?? true, path != "/" else {
            throw APIError.badRequest("backup destination '\(text)' is not a usable ssh:// URL", hint: Self.hint)
        }
        self = .ssh(user: user, host: authority, port: port, path: path)
    }

    /// Without a trailing slash, and without `..` (a destination is a place, not a path trick).
    private static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." && !$0.isEmpty }
        return "/" + parts.joined(separator: "/")
    }

    var root: String {
        switch self {
        case .local(let path), .ssh(_, _, _, let path): path
        }
    }

    var isRemote: Bool { if case .ssh = self { true } else { false } }

    var description: String {
        switch self {
        case .local(let path): path
        case .ssh(let user, let host, let port, let path):
            "ssh://\(user.map { $0 + "@" } ?? "")\(host)\(port.map { ":\($0)" } ?? "")\(path)"
        }
    }
}
