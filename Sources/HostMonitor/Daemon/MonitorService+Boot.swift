import Core
import Foundation
import Libvirt

/// Boot device order: kept in the persistent definition; a running VM
/// picks it up at its next boot.
extension MonitorService {
    public func bootOrder(vm: String) async throws -> BootOrder {
        let conn = try connection()
        return try await executor.run {
            let dom = try conn.domain(nameOrUUID: vm)
            return BootOrder(vm: dom.name, devices: try DomainDefinition(xml: try dom.xml([.inactive])).bootDevices)
        }
    }

    public func setBootOrder(vm: String, _ r: BootOrder) async throws -> BootOrder {
        let bad = r.devices.filter { !BootOrder.devices.contains($0) }
        guard !r.devices.isEmpty, bad.isEmpty, Set(r.devices).count == r.devices.count else {
            throw APIError.badRequest("boot devices must be distinct ones of \(BootOrder.devices.joined(separator: ", ")), got \(r.devices)",
                                      hint: "e.g. vigil vm boot-order VM cdrom,hd")
        }
        let conn = try connection()
        let result = try await executor.run { () throws -> BootOrder in
            let dom = try conn.domain(nameOrUUID: vm)
            var def = try DomainDefinition(xml: try dom.xml([.inactive, .secure]))
            if def.hasDirectKernelBoot {
                throw APIError.conflict("\(dom.name) boots a kernel directly (<os><kernel>), so it has no boot device order",
                                        hint: "remove the direct kernel boot from its definition first")
            }
            def.setBootDevices(r.devices)
            _ = try conn.define(xml: def.xml)
            return BootOrder(vm: dom.name, devices: r.devices, effective: try dom.isActive ? "next boot" : "now")
        }
        events.record(vmName: result.vm, kind: "settings", message: "boot order set to \(r.devices.joined(separator: ", ")) (\(result.effective ?? ""))")
        return result
    }
}
