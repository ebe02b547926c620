import Core
import Foundation
import Libvirt

/// Per-VM settings: libvirt's own fields (`<title>`, `<description>`,
/// `<blkiotune><weight>`), the crash policy's action, and Vigil's settings
/// metadata, read and changed as one document.
struct SettingsService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    /// The crash action is part of the document: it lives in the policy.
    let policies: PolicyService

    func settings(vm: String) async throws -> VMSettingsDocument {
        let conn = try host.connection()
        let defaults = policies.defaultPolicy
        return try await host.executor.run { () throws -> VMSettingsDocument in
            let dom = try conn.domain(nameOrUUID: vm)
            let d = try DomainSnapshot(dom: dom, defaults: defaults)
            var doc = VMSettingsDocument(vm: d.name, displayName: try dom.title(), description: try dom.description(),
                                         ioWeight: DomainXML.blkioWeight(in: try dom.xml([.inactive])), onCrash: d.policy.onCrash)
            doc.fill(from: d.settings)
            return doc
        }
    }

    /// Changes the given settings (absent ones keep their value) in the VM's
    /// persistent definition, and live when it runs. A live change libvirt
    /// refuses (e.g. no blkio cgroup) is kept for the next boot and noted.
    func setSettings(vm: String, _ change: VMSettingsDocument) async throws -> VMSettingsDocument {
        let problems = change.problems
        guard problems.isEmpty else {
            throw APIError.badRequest("invalid settings: " + problems.joined(separator: "; "), hint: "see 'vigil vm settings --help'")
        }
        let conn = try host.connection()
        let defaults = policies.defaultPolicy
        let (uuid, name, settings, notes) = try await host.executor.run { () throws -> (String, String, VMSettings, [String]) in
            let dom = try conn.domain(nameOrUUID: vm)
            let active = try dom.isActive
            var notes: [String] = []
            /// The persistent definition first, then the running one.
            func apply(_ what: String, _ body: (Domain.Affect) throws -> Void) throws {
                try body(.config)
                guard active else { return }
                do { try body(.live) } catch { notes.append("\(what) takes effect at the next boot (live change refused: \(error))") }
            }
            if let v = change.displayName { try apply("display name") { try dom.setTitle(v, affect: $0) } }
            if let v = change.description { try apply("description") { try dom.setDescription(v.isEmpty ? nil : v, affect: $0) } }
            if let v = change.ioWeight { try apply("I/O weight") { try dom.setBlkioWeight(UInt32(v), affect: $0) } }
            var s = try DomainSnapshot(dom: dom, defaults: defaults).settings
            change.apply(to: &s)
            let xml = SettingsMetadata.xml(for: s)
            try apply("settings") { try dom.setMetadata(xml, key: SettingsMetadata.key, namespaceURI: SettingsMetadata.namespaceURI, affect: $0) }
            return (dom.uuid, dom.name, s, notes)
        }
        policies.cache.invalidate(uuid)
        await center.mutate(uuid) {
            $0.settings = settings
            $0.machine.haEnabled = settings.haEnabled
        }
        if let onCrash = change.onCrash {
            var policy = try await policies.policy(vm: uuid).policy
            policy.onCrash = onCrash
            _ = try await policies.setPolicy(vm: uuid, policy: policy)
        }
        host.events.record(vmUUID: uuid, vmName: name, kind: "settings", message: "settings changed: " + Self.describe(change))
        var doc = try await self.settings(vm: uuid)
        doc.notes = notes
        return doc
    }

    /// The fields a change sets, for the event log.
    static func describe(_ c: VMSettingsDocument) -> String {
        func onOff(_ v: Bool) -> String { v ? "on" : "off" }
        var parts: [String] = []
        if let v = c.displayName { parts.append("display name '\(v.prefix(80))'") }
        if let v = c.description { parts.append("description (\(v.count) characters)") }
        if let v = c.ioWeight { parts.append("I/O weight \(v)") }
        if let v = c.onCrash { parts.append("on crash \(v.rawValue)") }
        if let v = c.haEnabled { parts.append("HA \(onOff(v))") }
        if let v = c.haPriority { parts.append("HA priority \(v.rawValue)") }
        if let v = c.autoMigrate { parts.append("auto-migration \(onOff(v))") }
        if let v = c.timeSync { parts.append("time sync \(onOff(v))") }
        if let v = c.autoUpgrade { parts.append("agent auto-upgrade \(onOff(v))") }
        return parts.isEmpty ? "nothing" : parts.joined(separator: ", ")
    }
}
