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
        if let live = p.live { try dom.setVcpus(live, .live) }
        // A larger maximum must exist before the count; a smaller one after it.
        if let max = p.maxConfig, max > oldConfigMax { try dom.setVcpus(max, [.config, .maximum]) }
        try dom.setVcpus(p.config, .config)
        if let max = p.maxConfig, max <= oldConfigMax { try dom.setVcpus(max, [.config, .maximum]) }
    }

    static func memory(_ p: HardwarePlanner.MemoryPlan, on dom: Domain, oldConfigMaxMiB: Int) throws {
        func kib(_ mib: Int) -> UInt64 { UInt64(mib) * 1024 }
        if let live = p.liveMiB { try dom.setMemory(kib: kib(live), .live) }
        if let max = p.maxConfigMiB, max > oldConfigMaxMiB { try dom.setMemory(kib: kib(max), [.config, .maximum]) }
        try dom.setMemory(kib: kib(p.configMiB), .config)
        if let max = p.maxConfigMiB, max <= oldConfigMaxMiB { try dom.setMemory(kib: kib(max), [.config, .maximum]) }
    }

    /// A new qcow2 file; never over an existing one.
    static func createDisk(_ path: String, sizeMiB: Int) async throws {
        var isDir: ObjCBool = false
        let dir = (path as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw APIError.badRequest("storage directory '\(dir)' does not exist", hint: "create it, or give another --dir")
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw APIError.conflict("\(path) already exists", hint: "remove or move it, or give another --dir; Vigil never overwrites a disk")
        }
        do {
            try await DiskImage.create(path, sizeBytes: Int64(sizeMiB) * 1024 * 1024)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw APIError(.internalServerError, "\(error)", hint: "check free space and permissions")
        }
    }

    /// Detaches a device; a live removal waits (up to `wait`) for the guest
    /// to let it go. Returns false when the device is still in the running VM.
    static func remove(_ xml: String, _ p: HardwarePlanner.DeviceRemovePlan, on dom: Domain,
                       stillThere: (HardwareLayout) -> Bool, wait: Duration = .seconds(10)) throws -> Bool {
        if p.live {
            try dom.detachDevice(xml: xml, affect: .live)
        }
        if p.config { try dom.detachDevice(xml: xml, affect: .config) }
        guard p.live else { return true }
        let deadline = ContinuousClock.now + wait
        while true {
            if !stillThere(HardwareXML.layout(try dom.xml())) { return true }
            if ContinuousClock.now >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.2)
        }
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
