import Core
import Foundation
import Libvirt

/// Carries out `HardwarePlanner`'s plans: libvirt calls (blocking: run them
/// on the executor) and disk files (qemu-img through `DiskImage`).
enum HardwarePerformer {
    /// Persistent and live layouts, with disk sizes where libvirt knows them.
    static func layouts(_ dom: Domain) throws -> (config: HardwareLayout, live: HardwareLayout?) {
        let active = try dom.isActive
        var config = HardwareXML.layout(try dom.xml([.inactive]))
        var live = active ? HardwareXML.layout(try dom.xml()) : nil
        if var l = live {
            for i in l.disks.indices { l.disks[i].sizeBytes = try? dom.blockInfo(l.disks[i].target).capacity }
            live = l
        }
        // A running VM's disk sizes are its live ones; a disk only in the definition is not open, so unknown.
        for i in config.disks.indices {
            let d = config.disks[i]
            config.disks[i].sizeBytes = active ? live?.disks.first { $0.target == d.target && $0.source == d.source }?.sizeBytes
                : try? dom.blockInfo(d.target).capacity
        }
        return (config, live)
    }

    static func cpu(_ p: HardwarePlanner.CPUPlan, on dom: Domain, oldConfigMax: Int) throws {
        try apply(live: p.live, config: p.config, maxConfig: p.maxConfig, oldMax: oldConfigMax) { n, which in
            try dom.setVcpus(n, which == .live ? .live : which == .config ? .config : [.config, .maximum])
        }
    }

    static func memory(_ p: HardwarePlanner.MemoryPlan, on dom: Domain, oldConfigMaxMiB: Int) throws {
        try apply(live: p.liveMiB, config: p.configMiB, maxConfig: p.maxConfigMiB, oldMax: oldConfigMaxMiB) { mib, which in
            try dom.setMemory(kib: UInt64(mib) * 1024, which == .live ? .live : which == .config ? .config : [.config, .maximum])
        }
    }

    enum Setting { case live, config, configMaximum }

    /// The running VM's value first (the step that can fail for real
    /// reasons), then the definition's; a larger maximum must exist before
    /// the value, a smaller one comes after it.
    private static func apply(live: Int?, config: Int, maxConfig: Int?, oldMax: Int, _ set: (Int, Setting) throws -> Void) throws {
        if let live { try set(live, .live) }
        if let max = maxConfig, max > oldMax { try set(max, .configMaximum) }
        try set(config, .config)
        if let max = maxConfig, max <= oldMax { try set(max, .configMaximum) }
    }

    /// A new qcow2 file in an existing directory; never over an existing one.
    static func createDisk(_ path: String, sizeMiB: Int) async throws {
        let dir = (path as NSString).deletingLastPathComponent
        guard FileFacts.isDirectory(dir) else {
            throw APIError.badRequest("storage directory '\(dir)' does not exist", hint: "create it, or give another --dir")
        }
        try await DiskImage.createNew(path, sizeBytes: Int64(sizeMiB) * 1024 * 1024)
    }

    /// Detaches a device from the running VM and/or its definition.
    static func detach(_ xml: String, _ p: HardwarePlanner.DeviceRemovePlan, on dom: Domain) throws {
        if p.live { try dom.detachDevice(xml: xml, affect: .live) }
        if p.config { try dom.detachDevice(xml: xml, affect: .config) }
    }

    /// Grows the file of a disk whose VM is off.
    static func resizeOffline(_ path: String, bytes: UInt64) async throws {
        do {
            try await DiskImage.resize(path, sizeBytes: Int64(bytes))
        } catch {
            throw APIError(.internalServerError, "\(error)", hint: "check the file and free space")
        }
    }

    /// A locally administered MAC in QEMU's range (52:54:00), random.
    static func newMAC() -> String {
        "52:54:00:" + (0..<3).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined(separator: ":")
    }
}
