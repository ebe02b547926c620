import Core

/// Reads and writes `VMSettings` as libvirt domain metadata.
enum SettingsMetadata {
    static let namespaceURI = "urn:vigil:settings:1"
    static let key = "vigil"

    static func xml(for s: VMSettings) -> String {
        "<settings timeSync='\(s.timeSync)' autoUpgrade='\(s.autoUpgrade)' ha='\(s.haEnabled)'"
            + " haPriority='\(s.haPriority.rawValue)' autoMigrate='\(s.autoMigrate)'/>"
    }

    /// Missing or unreadable attributes keep their defaults.
    static func parse(_ xml: String) -> VMSettings {
        var s = VMSettings()
        if let v = XMLAttribute.value("timeSync", in: xml).flatMap(Bool.init) { s.timeSync = v }
        if let v = XMLAttribute.value("autoUpgrade", in: xml).flatMap(Bool.init) { s.autoUpgrade = v }
        if let v = XMLAttribute.value("ha", in: xml).flatMap(Bool.init) { s.haEnabled = v }
        if let v = XMLAttribute.value("haPriority", in: xml).flatMap(HAPriority.init(rawValue:)) { s.haPriority = v }
        if let v = XMLAttribute.value("autoMigrate", in: xml).flatMap(Bool.init) { s.autoMigrate = v }
        return s
    }
}

/// The value of `name='…'` (or `"…"`) in a one-element metadata string.
enum XMLAttribute {
    static func value(_ name: String, in xml: String) -> String? {
        for quote in ["\"", "'"] {
            if let a = xml.range(of: " \(name)=\(quote)"),
               let b = xml.range(of: quote, range: a.upperBound..<xml.endIndex) {
                return String(xml[a.upperBound..<b.lowerBound])
            }
        }
        return nil
    }
}
