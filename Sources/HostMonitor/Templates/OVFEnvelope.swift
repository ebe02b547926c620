import Foundation
import FoundationXML

/// What Vigil takes from an OVF descriptor (DMTF DSP0243): the virtual
/// system's name, CPUs, memory, disks (by file) and NIC count. OVF files
/// come from outside: every reference is checked to name a plain file.
struct OVFEnvelope: Sendable, Equatable {
    struct Disk: Sendable, Equatable {
        /// The disk image's file name inside the OVA.
        var file: String
        /// Declared capacity in bytes (0 when not given).
        var capacityBytes: Int64
    }

    var name: String
    var vcpus: Int
    var memoryMiB: Int
    var disks: [Disk]
    var nics: Int

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(xml: String) throws {
        let doc: XMLDocument
        do { doc = try XMLText.document(xml) } catch { throw Invalid(description: "the OVF descriptor is not XML: \(error)") }
        func nodes(_ path: String, _ context: XMLNode? = nil) -> [XMLElement] {
            ((try? (context ?? doc).nodes(forXPath: path)) ?? []).compactMap { $0 as? XMLElement }
        }
        // Namespaced attributes (ovf:id, ovf:href) by their local name.
        func attr(_ e: XMLElement, _ local: String) -> String? {
            e.attributes?.first { $0.localName == local || $0.name == local }?.stringValue
        }
        func child(_ e: XMLElement, _ local: String) -> String? {
            e.children?.first { $0.localName == local }?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard doc.rootElement()?.localName == "Envelope" else { throw Invalid(description: "the OVF descriptor has no <Envelope>") }
        var files: [String: String] = [:]
        for f in nodes("//*[local-name()='References']/*[local-name()='File']") {
            guard let id = attr(f, "id"), let href = attr(f, "href") else { continue }
            guard !href.isEmpty, !href.contains("/"), !href.contains("\\"), !href.hasPrefix(".") else {
                throw Invalid(description: "the OVF references '\(href)', which is not a plain file name in the OVA")
            }
            files[id] = href
        }
        var disksByID: [String: Disk] = [:]
        for d in nodes("//*[local-name()='DiskSection']/*[local-name()='Disk']") {
            guard let id = attr(d, "diskId"), let ref = attr(d, "fileRef") else { continue }
            guard let file = files[ref] else { throw Invalid(description: "disk \(id) refers to file '\(ref)', which the OVF does not list") }
            let capacity = Int64(attr(d, "capacity") ?? "") ?? 0
            let units = attr(d, "capacityAllocationUnits") ?? "byte"
            // Sizes come from outside: one past 8 EiB trapped vigild (found by fuzz/FuzzOVF).
            let (bytes, overflow) = capacity.multipliedReportingOverflow(by: Self.multiplier(units))
            guard !overflow, bytes >= 0 else { throw Invalid(description: "disk \(id) declares an impossible capacity (\(capacity) \(units))") }
            disksByID[id] = Disk(file: file, capacityBytes: bytes)
        }
        guard let system = nodes("//*[local-name()='VirtualSystem']").first else {
            throw Invalid(description: "the OVF has no <VirtualSystem>")
        }
        name = child(system, "Name") ?? attr(system, "id") ?? "imported"
        var vcpus = 1, memoryMiB = 0, nics = 0
        var disks: [Disk] = []
        for item in nodes(".//*[local-name()='VirtualHardwareSection']/*[local-name()='Item' or local-name()='StorageItem' or local-name()='EthernetPortItem']", system) {
            let type = Int(child(item, "ResourceType") ?? "") ?? 0
            let quantity = Int64(child(item, "VirtualQuantity") ?? "") ?? 0
            switch type {
            case 3: vcpus = Int(max(1, min(quantity, 256)))
            case 4:
                let (bytes, overflow) = quantity.multipliedReportingOverflow(by: Self.multiplier(child(item, "AllocationUnits") ?? "byte * 2^20"))
                memoryMiB = overflow ? (quantity < 0 ? 0 : Int.max) : Int(bytes / (1 << 20))
            case 10: nics += 1
            case 17:
                // HostResource: "ovf:/disk/ID" (or "/disk/ID").
                guard let ref = child(item, "HostResource"), let id = ref.split(separator: "/").last.map(String.init),
                      let disk = disksByID[id] else { continue }
                disks.append(disk)
            default: continue
            }
        }
        guard memoryMiB >= 16 else { throw Invalid(description: "the OVF gives no usable memory size (got \(memoryMiB) MiB)") }
        guard !disks.isEmpty else { throw Invalid(description: "the OVF's virtual system has no disks") }
        self.vcpus = vcpus
        self.memoryMiB = min(memoryMiB, 4_194_304)
        self.disks = disks
        self.nics = min(nics, 16)
    }

    /// OVF allocation units: "byte", "byte * 2^20", "KiloBytes", "MegaBytes", "GigaBytes".
    static func multiplier(_ units: String) -> Int64 {
        let u = units.lowercased().replacingOccurrences(of: " ", with: "")
        if let caret = u.range(of: "2^"), let exp = Int(u[caret.upperBound...]), (0...40).contains(exp) { return 1 << exp }
        switch u {
        case "kilobytes", "kb": return 1 << 10
        case "megabytes", "mb": return 1 << 20
        case "gigabytes", "gb": return 1 << 30
        default: return 1
        }
    }
}
