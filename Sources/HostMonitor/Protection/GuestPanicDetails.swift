import Foundation

/// What QEMU told libvirt about a guest panic, from the line libvirt writes
/// into the domain's log (`/var/log/libvirt/qemu/NAME.log`):
///   `2024-09-30 16:30:49.506+0000: panic hyper-v: arg1='0x5a', arg2='0x1', arg3='0x2', arg4='0x3', arg5='0x4'`
/// A Windows guest with `<panic model='hyperv'/>` reports its bugcheck this
/// way: arg1 is the stop code, arg2…arg5 its parameters. Other kinds
/// (`s390: core=…`) are kept as text. The log is written by libvirt, but
/// its arguments come from the guest: every field is bounded.
struct GuestPanicDetails: Equatable, Sendable {
    var time: Date?
    var kind: String
    /// Hyper-V: the bugcheck code and its four parameters.
    var arguments: [UInt64]
    var text: String

    /// Bugcheck names of the codes seen most in the field (Microsoft's bug check reference).
    static let bugcheckNames: [UInt64: String] = [
        0x0A: "IRQL_NOT_LESS_OR_EQUAL", 0x1E: "KMODE_EXCEPTION_NOT_HANDLED", 0x3B: "SYSTEM_SERVICE_EXCEPTION",
        0x3E: "MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED", 0x50: "PAGE_FAULT_IN_NONPAGED_AREA",
        0x5A: "CRITICAL_SERVICE_FAILED", 0x7B: "INACCESSIBLE_BOOT_DEVICE", 0x7E: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
        0x9F: "DRIVER_POWER_STATE_FAILURE", 0xD1: "DRIVER_IRQL_NOT_LESS_OR_EQUAL", 0xE2: "MANUALLY_INITIATED_CRASH",
        0xEF: "CRITICAL_PROCESS_DIED", 0x101: "CLOCK_WATCHDOG_TIMEOUT", 0x133: "DPC_WATCHDOG_VIOLATION",
        0x139: "KERNEL_SECURITY_CHECK_FAILURE",
    ]

    /// One log line, or nil when it is not a panic line.
    static func parse(_ line: Substring) -> GuestPanicDetails? {
        guard line.utf8.count <= 4096, let marker = line.range(of: "panic ") else { return nil }
        let before = line[..<marker.lowerBound]
        // libvirt's lines start with its timestamp and ": "; a line without one is QEMU's own.
        var time: Date?
        if before.hasSuffix(": ") {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSZ"
            time = f.date(from: String(before.dropLast(2)))
        }
        let rest = line[marker.upperBound...]
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let kind = String(rest[..<colon])
        guard !kind.isEmpty, kind.count <= 32, kind.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { return nil }
        let fields = rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        var arguments: [UInt64] = []
        if kind == "hyper-v" {
            for n in 1...5 {
                guard let r = fields.range(of: "arg\(n)='0x") else { return nil }
                let hex = fields[r.upperBound...].prefix { $0.isHexDigit }
                guard !hex.isEmpty, hex.count <= 16, let v = UInt64(hex, radix: 16) else { return nil }
                arguments.append(v)
            }
        }
        return GuestPanicDetails(time: time, kind: kind, arguments: arguments, text: String(fields.prefix(512)))
    }

    /// The last panic line of `log` written at or after `notBefore` (lines without a time count).
    static func latest(in log: String, notBefore: Date) -> GuestPanicDetails? {
        log.split(separator: "\n").reversed().lazy.compactMap(parse).first { ($0.time ?? notBefore) >= notBefore }
    }

    /// For the event log.
    var summary: String {
        guard kind == "hyper-v", let code = arguments.first else { return "guest panic details (\(kind)): \(text)" }
        let name = Self.bugcheckNames[code].map { " \($0)" } ?? ""
        let params = arguments.dropFirst().map { "0x" + String($0, radix: 16, uppercase: true) }.joined(separator: ", ")
        return "Windows bugcheck 0x" + String(format: "%08llX", code) + name + " (\(params))"
    }

    /// Reads the end of a domain's log (libvirt's system log directory) for
    /// the panic at hand: written at most `window` seconds ago.
    static func fromDomainLog(_ path: String, window: TimeInterval = 120) -> GuestPanicDetails? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        guard let data = try? handle.readToEnd() else { return nil }
        return latest(in: String(decoding: data, as: UTF8.self), notBefore: Date().addingTimeInterval(-window))
    }
}
