import AgentWire
import Glibc

/// guest-get-osinfo: os-release(5) plus uname(2), with qemu-ga's field names.
enum GuestOSInfo {
    static func osInfo() -> JSONValue {
        var u = utsname()
        uname(&u)
        var info: [String: JSONValue] = [
            "kernel-release": .string(SysFiles.string(fromCArray: u.release)),
            "kernel-version": .string(SysFiles.string(fromCArray: u.version)),
            "machine": .string(SysFiles.string(fromCArray: u.machine)),
        ]
        let release = parseOSRelease(SysFiles.read("/etc/os-release") ?? SysFiles.read("/usr/lib/os-release") ?? "")
        let fields = [
            ("ID", "id"), ("NAME", "name"), ("PRETTY_NAME", "pretty-name"), ("VERSION", "version"),
            ("VERSION_ID", "version-id"), ("VARIANT", "variant"), ("VARIANT_ID", "variant-id"),
        ]
        for (key, name) in fields {
            if let value = release[key] { info[name] = .string(value) }
        }
        return .object(info)
    }

    /// KEY=value lines; values may be quoted with shell-style escapes.
    static func parseOSRelease(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let line = line.drop(while: { $0 == " " || $0 == "\t" })
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            result[String(line[..<eq])] = unquote(line[line.index(after: eq)...])
        }
        return result
    }

    private static func unquote(_ raw: Substring) -> String {
        var value = raw
        while value.last == " " || value.last == "\r" { value = value.dropLast() }
        guard let quote = value.first, quote == "\"" || quote == "'" else { return String(value) }
        value = value.dropFirst()
        if value.last == quote { value = value.dropLast() }
        guard quote == "\"" else { return String(value) }
        var out = ""
        var escaped = false
        for c in value {
            if escaped { out.append(c); escaped = false }
            else if c == "\\" { escaped = true }
            else { out.append(c) }
        }
        return out
    }
}
