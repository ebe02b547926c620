import Foundation
import FoundationXML

/// A domain definition parsed as a real XML tree (libxml2 through
/// FoundationXML), for the edits that must not be done by string scanning:
/// making a clone's or a template's definition from another's.
struct DomainDefinition {
    struct Disk: Sendable, Equatable {
        /// Guest device name, e.g. "vda".
        var target: String
        /// disk, cdrom, floppy, lun.
        var device: String
        var bus: String?
        /// The image file (nil for block devices, network disks, empty drives).
        var path: String?
        /// The image format libvirt is told (qcow2, raw, …).
        var format: String?
        var readOnly: Bool
        var shareable: Bool

        /// The VM's own writable disk image: cloned, moved to the bin or
        /// deleted with it. CD-ROMs, floppies, read-only and shareable disks are not.
        var isOwned: Bool { device == "disk" && !readOnly && !shareable }
    }

    /// The image files of a definition's disks, with whether each is the
    /// VM's own; none for XML that does not parse (libvirt's own output
    /// always does).
    static func diskFiles(in xml: String) -> [(path: String, isOwned: Bool)] {
        ((try? DomainDefinition(xml: xml))?.disks ?? []).compactMap { d in d.path.map { ($0, d.isOwned) } }
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    private let document: XMLDocument

    init(xml: String) throws {
        do {
            document = try XMLText.document(xml, options: [.nodePreserveWhitespace])
        } catch {
            throw Invalid(description: "not a readable domain definition: \(error)")
        }
        guard document.rootElement()?.name == "domain" else { throw Invalid(description: "not a <domain> definition") }
    }

    var xml: String { document.rootElement()?.xmlString ?? "" }

    private var root: XMLElement? { document.rootElement() }

    private func first(_ path: String) -> XMLElement? {
        (try? document.nodes(forXPath: path))?.first as? XMLElement
    }

    private func all(_ path: String) -> [XMLElement] {
        ((try? document.nodes(forXPath: path)) ?? []).compactMap { $0 as? XMLElement }
    }

    var name: String { first("/domain/name")?.stringValue ?? "" }

    /// libvirt's domain type: kvm, qemu (TCG), …
    var virtType: String { root?.attribute(forName: "type")?.stringValue ?? "kvm" }

    /// The libvirt networks the VM's NICs attach to.
    var networks: [String] {
        all("/domain/devices/interface[@type='network']/source").compactMap { $0.attribute(forName: "network")?.stringValue }
    }

    /// The guest CPU the VM asks for, when it names a model (custom or
    /// host-model): another host must be able to give it.
    var cpuModelXML: String? {
        guard let cpu = first("/domain/cpu"), first("/domain/cpu/model") != nil else { return nil }
        return cpu.xmlString
    }

    var disks: [Disk] {
        all("/domain/devices/disk").compactMap { d in
            guard let target = d.elements(forName: "target").first?.attribute(forName: "dev")?.stringValue else { return nil }
            let source = d.elements(forName: "source").first
            let isFile = (d.attribute(forName: "type")?.stringValue ?? "file") == "file"
            return Disk(target: target, device: d.attribute(forName: "device")?.stringValue ?? "disk",
                        bus: d.elements(forName: "target").first?.attribute(forName: "bus")?.stringValue,
                        path: isFile ? source?.attribute(forName: "file")?.stringValue : nil,
                        format: d.elements(forName: "driver").first?.attribute(forName: "type")?.stringValue,
                        readOnly: !d.elements(forName: "readonly").isEmpty,
                        shareable: !d.elements(forName: "shareable").isEmpty)
        }
    }

    var vcpus: Int { Int(first("/domain/vcpu")?.stringValue?.trimmingCharacters(in: .whitespaces) ?? "") ?? 1 }

    var memoryMiB: Int {
        guard let e = first("/domain/memory"), let v = Int64(e.stringValue?.trimmingCharacters(in: .whitespaces) ?? "") else { return 0 }
        return Int(Self.kib(v, unit: e.attribute(forName: "unit")?.stringValue ?? "KiB") / 1024)
    }

    /// Appends a virtio qcow2 disk.
    mutating func addDisk(target: String, path: String) throws {
        guard let devices = first("/domain/devices") else { throw Invalid(description: "the definition has no <devices>") }
        let disk = try XMLElement(xmlString: "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            + "<source file='\(XMLEscape.text(path))'/><target dev='\(XMLEscape.text(target))' bus='virtio'/></disk>")
        devices.addChild(disk)
    }

    var hasDirectKernelBoot: Bool { first("/domain/os/kernel") != nil }

    var bootDevices: [String] { all("/domain/os/boot").compactMap { $0.attribute(forName: "dev")?.stringValue } }

    /// Replaces the boot order (libvirt allows either `<os><boot>` or
    /// per-device `<boot order>`, so the per-device ones go).
    mutating func setBootDevices(_ devices: [String]) {
        for e in all("/domain/os/boot") + all("/domain/devices/*/boot") { e.detach() }
        guard let os = first("/domain/os") else { return }
        // After <type> (and kernel/initrd/cmdline, which libvirt orders itself).
        for dev in devices {
            let boot = XMLElement(name: "boot")
            Self.setAttribute(boot, "dev", dev)
            os.addChild(boot)
        }
    }

    /// Sets the vCPU count (all of them online at boot).
    mutating func setVCPUs(_ n: Int) {
        guard let e = first("/domain/vcpu") else { return }
        e.stringValue = "\(n)"
        e.removeAttribute(forName: "current")
    }

    /// Sets the memory size (and the current, ballooned size to the same).
    mutating func setMemory(mib: Int) {
        for path in ["/domain/memory", "/domain/currentMemory"] {
            guard let e = first(path) else { continue }
            e.stringValue = "\(Int64(mib) * 1024)"
            Self.setAttribute(e, "unit", "KiB")
        }
    }

    static func kib(_ value: Int64, unit: String) -> Int64 {
        // Saturating: a template archive's definition can say anything (a trap before).
        func times(_ factor: Int64) -> Int64 {
            let (r, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? (value < 0 ? .min : .max) : r
        }
        return switch unit.lowercased() {
        case "b", "bytes": value / 1024
        case "m", "mib": times(1024)
        case "g", "gib": times(1024 * 1024)
        case "t", "tib": times(1024 * 1024 * 1024)
        case "kb": times(1000) / 1024
        case "mb": times(1_000_000) / 1024
        case "gb": times(1_000_000_000) / 1024
        default: value
        }
    }

    /// Disk elements whose type is not a plain file (block, network, volume).
    var nonFileDisks: [String] {
        all("/domain/devices/disk").compactMap { d in
            let type = d.attribute(forName: "type")?.stringValue ?? "file"
            guard type != "file", (d.attribute(forName: "device")?.stringValue ?? "disk") == "disk" else { return nil }
            return d.elements(forName: "target").first?.attribute(forName: "dev")?.stringValue ?? "?"
        }
    }

    /// Turns this definition into a new VM's: new name and UUID, no MAC
    /// addresses (libvirt makes fresh ones), the given disk images (qcow2),
    /// and host-side file and socket paths made unique so the two VMs can
    /// run side by side.
    mutating func makeCopy(name newName: String, uuid: String, disks newPaths: [String: String]) {
        let oldName = name
        set("/domain/name", newName)
        set("/domain/uuid", uuid)
        for mac in all("/domain/devices/interface/mac") { mac.detach() }
        // Runtime-only elements a live XML may carry.
        for path in ["/domain/devices/*/alias", "/domain/devices/interface/target", "/domain/seclabel"] {
            for e in all(path) { e.detach() }
        }
        setDiskImages(newPaths)
        for device in all("/domain/devices/*") {
            let kind = device.name ?? ""
            guard ["serial", "console", "channel", "parallel"].contains(kind) else { continue }
            let isAgentChannel = kind == "channel" && device.elements(forName: "target").first?.attribute(forName: "type")?.stringValue == "virtio"
            for source in device.elements(forName: "source") {
                if isAgentChannel {
                    // libvirt picks a per-domain socket path when none is given.
                    source.removeAttribute(forName: "path")
                } else if let path = source.attribute(forName: "path")?.stringValue {
                    source.attribute(forName: "path")?.stringValue = Self.uniquePath(path, oldName: oldName, newName: newName)
                }
            }
            for log in device.elements(forName: "log") {
                if let file = log.attribute(forName: "file")?.stringValue {
                    log.attribute(forName: "file")?.stringValue = Self.uniquePath(file, oldName: oldName, newName: newName)
                }
            }
        }
        // Guests that take their hostname from the kernel command line (the
        // test image) get the new name.
        if let cmdline = first("/domain/os/cmdline"), let text = cmdline.stringValue, text.contains("=\(oldName)") {
            cmdline.stringValue = text.replacingOccurrences(of: "=\(oldName)", with: "=\(newName)")
        }
    }

    /// Points the disks named in `newPaths` (target → file) at new qcow2 images.
    mutating func setDiskImages(_ newPaths: [String: String]) {
        for d in all("/domain/devices/disk") {
            guard let target = d.elements(forName: "target").first?.attribute(forName: "dev")?.stringValue,
                  let path = newPaths[target] else { continue }
            d.elements(forName: "source").first?.attribute(forName: "file")?.stringValue = path
            if let driver = d.elements(forName: "driver").first {
                Self.setAttribute(driver, "type", "qcow2")
            } else {
                // Without a driver type libvirt would read the qcow2 as raw.
                let driver = XMLElement(name: "driver")
                Self.setAttribute(driver, "name", "qemu")
                Self.setAttribute(driver, "type", "qcow2")
                d.insertChild(driver, at: 0)
            }
            // libvirt re-reads the new image's own backing chain.
            for b in d.elements(forName: "backingStore") { b.detach() }
        }
    }

    /// Takes `other`'s `<metadata>` (Vigil's policy and settings, other
    /// tools' notes) in place of this definition's: a snapshot's definition
    /// brought back keeps how the VM is managed now.
    mutating func takeMetadata(from other: DomainDefinition) {
        for m in all("/domain/metadata") { m.detach() }
        guard let m = other.first("/domain/metadata")?.copy() as? XMLElement, let root else { return }
        root.addChild(m)
    }

    /// The old VM's name in a path becomes the new one's; otherwise the new
    /// name is put in front of the file name.
    static func uniquePath(_ path: String, oldName: String, newName: String) -> String {
        let url = URL(fileURLWithPath: path)
        let file = url.lastPathComponent
        let renamed = !oldName.isEmpty && file.contains(oldName)
            ? file.replacingOccurrences(of: oldName, with: newName) : "\(newName)-\(file)"
        return url.deletingLastPathComponent().appendingPathComponent(renamed).path
    }

    private static func setAttribute(_ e: XMLElement, _ name: String, _ value: String) {
        if let a = e.attribute(forName: name) {
            a.stringValue = value
        } else if let a = XMLNode.attribute(withName: name, stringValue: value) as? XMLNode {
            e.addAttribute(a)
        }
    }

    private func set(_ path: String, _ value: String) {
        if let e = first(path) {
            e.stringValue = value
        } else if let root, let last = path.split(separator: "/").last {
            // FoundationXML traps inserting at 0 into an element without children (<domain/>; FuzzDomainXML).
            let e = XMLElement(name: String(last), stringValue: value)
            if root.childCount == 0 { root.addChild(e) } else { root.insertChild(e, at: 0) }
        }
    }
}
