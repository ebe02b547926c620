import Core
import Libvirt

/// `PUT /v1/vms/{vm}/policy` reply.
public struct PolicyUpdate: Codable, Sendable {
    public var policy: PolicyDocument
    public var notes: [String]
}

/// Crash policies in the API: read from and stored in each VM's metadata,
/// and handed to the VM's protection state machine.
struct PolicyService: Sendable {
    let host: HostContext
    let center: ProtectionCenter
    let defaultPolicy: ProtectionPolicy
    /// Told when a VM's policy changes, so reconcile reads it afresh.
    let cache: DomainCache

    func policy(vm: String) async throws -> PolicyDocument {
        let conn = try host.connection()
        let defaults = defaultPolicy
        let d = try await host.executor.run { try DomainSnapshot(dom: try conn.domain(nameOrUUID: vm), defaults: defaults) }
        return PolicyDocument(vm: d.name, policy: d.policy, isHostDefault: !d.hasOwnPolicy)
    }

    /// Stores a VM's policy in its metadata (persistent, and live when running)
    /// and makes the definition protectable. Returns the stored policy and
    /// notes on what changed.
    func setPolicy(vm: String, policy: ProtectionPolicy) async throws -> PolicyUpdate {
        let problems = policy.problems
        guard problems.isEmpty else {
            throw APIError.badRequest("invalid policy: " + problems.joined(separator: "; "),
                                      hint: "see 'vigil policy set --help' for the allowed ranges")
        }
        let conn = try host.connection()
        let (uuid, name, notes) = try await host.executor.run { () throws -> (String, String, [String]) in
            let dom = try conn.domain(nameOrUUID: vm)
            var notes: [String] = []
            let fixed = DomainXML.protectionFixups(try dom.xml([.inactive, .secure]))
            if !fixed.changes.isEmpty {
                _ = try conn.define(xml: fixed.xml)
                notes += fixed.changes
                if try dom.isActive { notes.append("device changes take effect at the next boot") }
            }
            let xml = PolicyMetadata.xml(for: policy)
            try dom.setMetadata(xml, key: PolicyMetadata.key, namespaceURI: PolicyMetadata.namespaceURI, affect: .config)
            if try dom.isActive {
                try dom.setMetadata(xml, key: PolicyMetadata.key, namespaceURI: PolicyMetadata.namespaceURI, affect: .live)
            }
            return (dom.uuid, dom.name, notes)
        }
        cache.invalidate(uuid)
        await center.setPolicy(uuid, policy)
        host.events.record(vmUUID: uuid, vmName: name, kind: "policy",
                      message: "policy set: on crash \(policy.onCrash.rawValue), heartbeat \(policy.heartbeatIntervalMs) ms × \(policy.misses), "
                        + "min uptime \(policy.minUptimeSeconds) s, at most \(policy.maxResets) resets in \(policy.windowSeconds) s")
        return PolicyUpdate(policy: PolicyDocument(vm: name, policy: policy, isHostDefault: false), notes: notes)
    }
}
