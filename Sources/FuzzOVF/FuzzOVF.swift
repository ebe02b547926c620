import FuzzSupport

// The OVF descriptor reader of OVA import (HostMonitor/Templates/OVFEnvelope.swift,
// compiled here through the symlink beside this file): OVA files are
// downloaded from anywhere, so any descriptor must be read or refused with
// `Invalid`, never trap, and what is read must stay inside the limits import
// relies on (plain file names, bounded sizes and counts).
@main
enum FuzzOVF {
    static func main() {
        FuzzMain.run { bytes in check(String(decoding: bytes, as: UTF8.self)) }
    }

    static func check(_ xml: String) {
        guard let ovf = try? OVFEnvelope(xml: xml) else { return }
        precondition((1...256).contains(ovf.vcpus), "vCPUs out of range")
        precondition((16...4_194_304).contains(ovf.memoryMiB), "memory out of range")
        precondition((0...16).contains(ovf.nics), "NIC count out of range")
        precondition(!ovf.disks.isEmpty, "no disks")
        for disk in ovf.disks {
            precondition(!disk.file.isEmpty && !disk.file.contains("/") && !disk.file.contains("\\") && !disk.file.hasPrefix("."),
                         "a disk file that is not a plain name")
        }
    }
}
