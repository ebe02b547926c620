import Core
import Foundation

/// Reads and writes a VM's protection policy as libvirt domain metadata, so
/// the policy travels with the domain (migration, backup of its XML).
enum PolicyMetadata {
    static let namespaceURI = "urn:vigil:policy:1"
    static let key = "vigil"

    static func xml(for p: ProtectionPolicy) -> String {
        "<policy onCrash='\(p.onCrash.rawValue)' heartbeatIntervalMs='\(p.heartbeatIntervalMs)' misses='\(p.misses)'"
            + " minUptime='\(p.minUptimeSeconds)' maxResets='\(p.maxResets)' window='\(p.windowSeconds)'/>"
    }

    /// Parses what `xml(for:)` stored; missing or unreadable attributes fall
    /// back to `defaults` (an administrator may have edited the XML by hand).
    static func parse(_ xml: String, defaults: ProtectionPolicy) -> ProtectionPolicy {
        func attr(_ name: String) -> String? { XMLAttribute.value(name, in: xml) }
        var p = defaults
        if let v = attr("onCrash").flatMap(CrashAction.init(rawValue:)) { p.onCrash = v }
        if let v = attr("heartbeatIntervalMs").flatMap(Int.init) { p.heartbeatIntervalMs = v }
        if let v = attr("misses").flatMap(Int.init) { p.misses = v }
        if let v = attr("minUptime").flatMap(Int.init) { p.minUptimeSeconds = v }
        if let v = attr("maxResets").flatMap(Int.init) { p.maxResets = v }
        if let v = attr("window").flatMap(Int.init) { p.windowSeconds = v }
        return p.problems.isEmpty ? p : defaults
    }
}
