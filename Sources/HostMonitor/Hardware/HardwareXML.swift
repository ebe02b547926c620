import Core
import Foundation

/// Reads a domain's vCPUs, memory, disks and NICs from libvirt's XML
/// (trusted), and writes the device XML that hardware changes attach or detach.
enum HardwareXML {
    static func layout(_ xml: String) -> HardwareLayout {
        let vcpu = DomainXML.elements("vcpu", in: xml).first
        let maxVcpus = vcpu.flatMap { Int(text(of: $0)) } ?? 1
        let vcpus = vcpu.flatMap { DomainXML.attribute("current", inFirst: "vcpu", of: $0) }.flatMap(Int.init) ?? maxVcpus
        let maxKiB = DomainXML.elements("memory", in: xml).first.map(kib) ?? 0
        let curKiB = DomainXML.elements("currentMemory", in: xml).first.map(kib) ?? maxKiB
        let balloonModel = openTag("memballoon", in: xml).flatMap { DomainXML.attribute("model", inFirst: "memballoon", of: $0) }
        let disks = DomainXML.elements("disk", in: xml).compactMap { d -> HardwareLayout.Disk? in
            guard let target = DomainXML.attribute("dev", inFirst: "target", of: d) else { return nil }
            return .init(target: target, bus: DomainXML.attribute("bus", inFirst: "target", of: d) ?? "",
                         device: DomainXML.attribute("device", inFirst: "disk", of: d) ?? "disk",
                         source: DomainXML.attribute("file", inFirst: "source", of: d) ?? DomainXML.attribute("dev", inFirst: "source", of: d))
        }
        let nics = DomainXML.elements("interface", in: xml).compactMap { n -> HardwareLayout.NIC? in
            guard let mac = DomainXML.attribute("address", inFirst: "mac", of: n) else { return nil }
            let source = ["network", "bridge", "dev"].lazy.compactMap { DomainXML.attribute($0, inFirst: "source", of: n) }.first
            return .init(mac: mac.lowercased(), kind: DomainXML.attribute("type", inFirst: "interface", of: n) ?? "",
                         source: source, model: DomainXML.attribute("type", inFirst: "model", of: n))
        }
        return HardwareLayout(vcpus: vcpus, maxVcpus: maxVcpus, memoryMiB: Int(curKiB / 1024), maxMemoryMiB: Int(maxKiB / 1024),
                              balloon: balloonModel != nil && balloonModel != "none", disks: disks, nics: nics)
    }

    static func diskXML(path: String, target: String, bus: String) -> String {
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(esc(path))'/>"
            + "<target dev='\(esc(target))' bus='\(esc(bus))'/></disk>"
    }

    /// Enough for libvirt to find the disk to detach (it matches the target).
    static func diskXML(_ disk: HardwareLayout.Disk) -> String {
        let source = disk.source.map { "<source file='\(esc($0))'/>" } ?? ""
        return "<disk type='file' device='\(esc(disk.device))'>\(source)<target dev='\(esc(disk.target))' bus='\(esc(disk.bus))'/></disk>"
    }

    static func nicXML(kind: String, source: String?, mac: String, model: String) -> String {
        let src = switch kind {
        case "network": "<source network='\(esc(source ?? ""))'/>"
        case "bridge": "<source bridge='\(esc(source ?? ""))'/>"
        default: ""
        }
        return "<interface type='\(esc(kind))'><mac address='\(esc(mac))'/>\(src)<model type='\(esc(model))'/></interface>"
    }

    /// libvirt finds the interface to detach by its MAC.
    static func nicXML(_ nic: HardwareLayout.NIC) -> String {
        nicXML(kind: nic.kind, source: nic.source, mac: nic.mac, model: nic.model ?? "virtio")
    }

    /// `<memory unit='KiB'>N</memory>` in KiB, whatever the unit.
    private static func kib(_ element: Substring) -> UInt64 {
        let value = UInt64(text(of: element)) ?? 0
        let unit = element.range(of: "unit='").flatMap { r in element[r.upperBound...].split(separator: "'").first }.map(String.init) ?? "KiB"
        return switch unit {
        case "b", "bytes": value / 1024
        case "M", "MiB": value * 1024
        case "G", "GiB": value * 1024 * 1024
        default: value
        }
    }

    private static func text(of element: Substring) -> String {
        guard let open = element.range(of: ">"), let close = element.range(of: "</", options: .backwards) else { return "" }
        return element[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The first `<tag …>` or `<tag …/>` start tag (self-closing ones have no end tag).
    private static func openTag(_ tag: String, in xml: String) -> Substring? {
        guard let open = xml.range(of: "<\(tag) "), let close = xml.range(of: ">", range: open.upperBound..<xml.endIndex) else { return nil }
        return xml[open.lowerBound..<close.upperBound]
    }

    private static func esc(_ s: String) -> String { XMLEscape.text(s) }
}
