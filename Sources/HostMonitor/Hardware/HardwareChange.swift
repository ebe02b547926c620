import Core
import Libvirt

/// The steps every hardware change shares: read the layouts, run the
/// change, log it, and confirm an online change from inside the guest.
extension HardwareService {
    /// One VM as a change sees it: its layouts, what its guest saw before,
    /// and a way to run blocking libvirt calls on the executor.
    struct HardwareTarget: Sendable {
        let dom: Domain
        let config: HardwareLayout
        let live: HardwareLayout?
        let guestBefore: AgentMessage.Inventory?
        let executor: BlockingExecutor
        var name: String { dom.name }

        func libvirt<T: Sendable>(_ body: @escaping @Sendable (Domain) throws -> T) async throws -> T {
            let dom = self.dom
            return try await executor.run { try body(dom) }
        }

        /// A live unplug needs the guest's consent: QEMU asks, and libvirt
        /// returns after a few seconds even without it. False when the device
        /// is still in the running VM after `wait`.
        func waitUntilGone(wait: Duration = .seconds(10), _ present: @escaping @Sendable (HardwareLayout) -> Bool) async throws -> Bool {
            let deadline = ContinuousClock.now + wait
            while try await libvirt({ present(HardwareXML.layout(try $0.xml())) }) {
                if ContinuousClock.now >= deadline { return false }
                try await Task.sleep(for: .milliseconds(200))
            }
            return true
        }
    }

    struct NoInventory: Error, CustomStringConvertible {
        let version: String
        var description: String { "vigil-agent \(version) cannot report what the guest sees: upgrade it ('vigil agent upgrade VM')" }
    }

    typealias GuestCheck = @Sendable (AgentMessage.Inventory) -> Bool

    /// Runs one change, logs it, and for an online change waits (briefly)
    /// until the guest shows it.
    func change(vm: String, action: String,
                        _ body: (HardwareTarget) async throws -> (HardwareChangeResult, GuestCheck)) async throws -> HardwareChangeResult {
        let conn = try host.connection()
        let (dom, config, live) = try await host.executor.run { () throws -> (Domain, HardwareLayout, HardwareLayout?) in
            let dom = try conn.domain(nameOrUUID: vm)
            let active = try dom.isActive
            return (dom, HardwareXML.layout(try dom.xml([.inactive])), active ? HardwareXML.layout(try dom.xml()) : nil)
        }
        let uuid = dom.uuid
        let before = live == nil ? nil : try? await inventory(uuid)
        var (result, check): (HardwareChangeResult, GuestCheck)
        do {
            (result, check) = try await body(HardwareTarget(dom: dom, config: config, live: live, guestBefore: before, executor: host.executor))
        } catch {
            // Refusals too: the log shows who asked for what a VM could not take.
            let refused = (error as? APIError).map { $0.status.code < 500 } ?? false
            host.events.record(vmUUID: uuid, vmName: dom.name, kind: "hardware", message: "\(action) \(refused ? "refused" : "failed"): \(error)",
                          action: action, outcome: refused ? "refused" : "failed")
            throw error
        }
        let when = result.effective == .now ? "now" : "effective at next boot"
        host.events.record(vmUUID: uuid, vmName: result.vm, kind: "hardware", message: "\(result.change) (\(when))",
                      action: action, outcome: "succeeded")
        host.logger.info("hardware change: \(result.change) (\(when))", metadata: ["vm.name": "\(result.vm)"])
        if result.effective == .nextBoot {
            result.notes.insert("stored in the VM's definition: effective at next boot", at: 0)
        } else if let t = await center.tracked(uuid), t.machine.agent == .alive {
            if t.hello?.capabilities.contains("inventory") == true {
                let (guest, seen) = await confirm(uuid, check)
                result.guest = guest
                if !seen { result.notes.append("the guest does not show the change yet (hot-plug may take a moment)") }
            } else {
                result.notes.append(NoInventory(version: t.hello?.agentVersion ?? "?").description)
            }
        } else {
            result.notes.append("no vigil-agent connected: cannot confirm what the guest sees")
        }
        return result
    }

    /// What the guest sees, from its agent (bounded: the guest is untrusted).
    func inventory(_ uuid: String) async throws -> AgentMessage.Inventory {
        guard let t = await center.tracked(uuid), t.machine.agent == .alive else { throw AgentRequests.NotConnected() }
        guard t.hello?.capabilities.contains("inventory") == true else { throw NoInventory(version: t.hello?.agentVersion ?? "?") }
        let reply = try await requests.request(vm: uuid, what: "an inventory request", send: { [center] in await center.send(uuid, $0) }) {
            .inventoryRequest(.init(id: $0))
        }
        guard case .inventory(let inventory) = reply.message else { throw AgentRequests.NotConnected() }
        return inventory.bounded()
    }

    /// Asks the agent until `check` holds and the view is steady (hot-plugged
    /// hardware reaches the guest a little after libvirt returns; each request
    /// also brings new CPUs and memory online) or `timeout` passes.
    func confirm(_ uuid: String, _ check: GuestCheck, timeout: Duration = .seconds(15))
        async -> (AgentMessage.Inventory?, Bool) {
        let deadline = ContinuousClock.now + timeout
        var last: AgentMessage.Inventory?
        while true {
            if let inventory = try? await inventory(uuid) {
                // Twice the same view: a balloon moves memory a little at a time.
                if check(inventory), let last, last.sameView(as: inventory) { return (inventory, true) }
                last = inventory
            }
            if ContinuousClock.now >= deadline { return (last, false) }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}
