import Core
import Foundation

/// Turns a `VMCreateRequest` into checked parameters, disk files and a
/// domain definition with what Vigil needs (pvpanic, on_crash=preserve,
/// the agent channels). Every problem is reported at once, before anything
/// is created.
enum VMBuilder {
    static func problems(_ r: VMCreateRequest) -> [String] {
        var p = nameProblems(r.name)
        if !(1...256).contains(r.vcpus) { p.append("vcpus must be 1 to 256, got \(r.vcpus)") }
        if !(32...4_194_304).contains(r.memoryMiB) { p.append("memory must be 32 MiB to 4 TiB, got \(r.memoryMiB) MiB") }
        if r.disks.count > 16 { p.append("at most 16 disks") }
        for (i, d) in r.disks.enumerated() {
            if let base = d.base {
                if !(d.sizeGiB >= 0 && d.sizeGiB <= 65_536) { p.append("disk \(i + 1): size must be 0 (the base's) to 65536 GiB") }
                if !base.hasPrefix("/") || !FileManager.default.isReadableFile(atPath: base) {
                    p.append("disk \(i + 1): cannot read the base image '\(base)' (give an absolute path on vigild's host)")
                }
                if d.pool != nil { p.append("disk \(i + 1): an overlay on a base image goes into a directory, not a pool") }
            } else if !(d.sizeGiB > 0 && d.sizeGiB <= 65_536) {
                p.append("disk \(i + 1): size must be above 0 and at most 65536 GiB")
            }
            switch (d.directory, d.pool) {
            case (let dir?, nil):
                if !FileFacts.isDirectory(dir) { p.append("disk \(i + 1): storage directory '\(dir)' does not exist (give an absolute path)") }
            case (nil, let pool?):
                if pool.isEmpty { p.append("disk \(i + 1): name the storage pool") }
            default:
                p.append("disk \(i + 1): give either a storage directory or a storage pool")
            }
        }
        for (i, n) in r.nics.enumerated() {
            switch n.kind {
            case "user": break
            case "network", "bridge":
                if (n.source ?? "").isEmpty { p.append("nic \(i + 1): \(n.kind) needs a name, e.g. \(n.kind)=default") }
            default: p.append("nic \(i + 1): kind must be user, network or bridge, got '\(n.kind)'")
            }
            if let mac = n.mac, mac.split(separator: ":").count != 6 || !mac.split(separator: ":").allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }) {
                p.append("nic \(i + 1): MAC must look like 52:54:00:12:34:56, got '\(mac)'")
            }
        }
        let devices = ["hd", "network", "cdrom"]
        for b in r.boot where !devices.contains(b) { p.append("boot device must be hd, network or cdrom, got '\(b)'") }
        if let t = r.virtType, !["kvm", "qemu"].contains(t) { p.append("virt type must be kvm or qemu, got '\(t)'") }
        for (what, file) in [("kernel", r.kernel), ("initrd", r.initrd)] {
            guard let file else { continue }
            if !file.hasPrefix("/") || !FileManager.default.isReadableFile(atPath: file) {
                p.append("cannot read the \(what) '\(file)' (give an absolute path on vigild's host)")
            }
        }
        if r.kernel == nil && (r.initrd != nil || r.cmdline != nil) { p.append("an initrd or a kernel command line needs --kernel") }
        if let c = r.cmdline, c.count > 4096 || c.contains(where: { $0.isNewline }) { p.append("the kernel command line must be one line of at most 4096 characters") }
        if let log = r.consoleLog, !log.hasPrefix("/") || !FileFacts.isDirectory(URL(fileURLWithPath: log).deletingLastPathComponent().path) {
            p.append("console log '\(log)' must be an absolute path in an existing directory")
        }
        if let sock = r.serialSocket {
            if !sock.hasPrefix("/") || !FileFacts.isDirectory(URL(fileURLWithPath: sock).deletingLastPathComponent().path) {
                p.append("serial socket '\(sock)' must be an absolute path in an existing directory")
            } else if sock.utf8.count > 107 {
                p.append("serial socket '\(sock)' is longer than a unix socket path may be (107 bytes)")
            } else if FileManager.default.fileExists(atPath: sock) {
                p.append("serial socket '\(sock)' already exists")
            }
        }
        return p
    }

    /// What is wrong with a new VM's name (it names files and sockets too).
    static func nameProblems(_ name: String) -> [String] {
        if name.isEmpty || name.count > 64 || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            || name.hasPrefix(".") {
            return ["name must be 1-64 letters, digits, '-', '_' or '.' (not starting with '.'), got '\(name)'"]
        }
        return []
    }

    /// The file name of the new VM's disk `i` (in its directory, or as a pool volume).
    static func diskName(_ r: VMCreateRequest, _ i: Int) -> String { "\(r.name)-disk\(i + 1).qcow2" }

    /// Where disk `i` goes when it is in a directory.
    static func diskPath(_ r: VMCreateRequest, _ i: Int) -> String {
        FileFacts.path(diskName(r, i), in: r.disks[i].directory ?? "/")
    }

    /// The domain definition; `diskPaths` overrides where each disk's image is
    /// (an import names its own files), otherwise `diskPath(r, i)`.
    /// `uuid` is given up front when the definition is journalled before it is made.
    static func xml(_ r: VMCreateRequest, diskPaths: [String]? = nil, uuid: String? = nil) -> String {
        let esc = XMLEscape.text
        // A directly booted kernel needs no boot devices.
        let boots = r.kernel != nil ? "" : r.boot.map { "    <boot dev='\($0)'/>" }.joined(separator: "\n")
        let kernel = r.kernel.map { k in
            "    <kernel>\(esc(k))</kernel>" + (r.initrd.map { "\n    <initrd>\(esc($0))</initrd>" } ?? "")
                + (r.cmdline.map { "\n    <cmdline>\(esc($0))</cmdline>" } ?? "")
        } ?? ""
        let serial = r.consoleLog.map { "<serial type='file'><source path='\(esc($0))'/><target port='0'/></serial>" }
            ?? "<serial type='pty'><target port='0'/></serial>"
        // libvirt makes serial 0 the console by itself; a pty one is named for `virsh console`.
        let console = r.consoleLog == nil ? "\n    <console type='pty'><target type='serial' port='0'/></console>" : ""
        let extraSerial = r.serialSocket.map {
            "\n    <serial type='unix'><source mode='bind' path='\(esc($0))'/><target port='1'/></serial>"
        } ?? ""
        let paths = diskPaths ?? r.disks.indices.map { diskPath(r, $0) }
        let disks = paths.indices.map { i in
            """
                <disk type='file' device='disk'>
                  <driver name='qemu' type='qcow2'/>
                  <source file='\(esc(paths[i]))'/>
                  <target dev='\(DiskTargets.virtio(i) ?? "vd?")' bus='virtio'/>
                </disk>
            """
        }.joined(separator: "\n")
        let nics = r.nics.map { n -> String in
            let mac = n.mac.map { "\n      <mac address='\(esc($0))'/>" } ?? ""
            let source = switch n.kind {
            case "network": "\n      <source network='\(esc(n.source ?? ""))'/>"
            case "bridge": "\n      <source bridge='\(esc(n.source ?? ""))'/>"
            default: ""
            }
            return "    <interface type='\(n.kind == "user" ? "user" : n.kind)'>\(mac)\(source)\n      <model type='virtio'/>\n    </interface>"
        }.joined(separator: "\n")
        return """
        <domain type='\(r.virtType ?? "kvm")'>
          <name>\(esc(r.name))</name>\(uuid.map { "<uuid>\($0)</uuid>" } ?? "")
          <memory unit='MiB'>\(r.memoryMiB)</memory>
          <vcpu>\(r.vcpus)</vcpu>
          <os>
            <type arch='x86_64'>hvm</type>
        \(boots)\(kernel)
          </os>
          <features><acpi/></features>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>restart</on_reboot>
          <on_crash>preserve</on_crash>
          <devices>
        \(disks)
        \(nics)
            \(serial)\(extraSerial)\(console)
            <channel type='unix'><source mode='bind'/><target type='virtio' name='\(AgentProtocol.channelName)'/></channel>
            <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
            <panic model='isa'/>
          </devices>
        </domain>
        """
    }

    /// Bytes of a disk given in GiB (KiB-aligned, as qemu-img is asked for it).
    static func diskBytes(_ sizeGiB: Double) -> Int64 { Int64(sizeGiB * 1024 * 1024) * 1024 }
}
