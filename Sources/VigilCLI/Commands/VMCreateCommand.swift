import ArgumentParser
import Core
import FoundationEssentials

extension VMCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a VM from parameters (new qcow2 disks, NICs, boot order).",
            discussion: """
                The VM gets what Vigil's protection needs: a pvpanic device, on_crash=preserve, \
                and the vigil-agent and qemu-guest-agent channels. Disks go into a storage directory \
                or, as qcow2 volumes, into a libvirt storage pool whose volumes are files (dir, fs, \
                netfs). Creation is journalled: if anything fails, or vigild stops halfway, the disks \
                made so far are removed and nothing stays defined.
                Example: vigil vm create web1 --vcpus 2 --memory 2048 --disk 20@/srv/vms --disk 100@pool:data --nic network=default --boot hd,network
                Direct kernel boot: vigil vm create t1 --virt-type qemu --memory 256 --kernel /srv/k/vmlinuz --initrd /srv/k/initrd.img \
                --cmdline 'console=ttyS0' --disk-from /srv/golden/data.qcow2@/srv/vms --console-log /srv/vms/t1.log
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Name of the new VM.") var name: String
        @Option(help: "Virtual CPUs.") var vcpus = 1
        @Option(help: "Memory in MiB.") var memory = 1024
        @Option(help: "A new disk: SIZE_GiB@DIRECTORY, or SIZE_GiB@pool:POOL for a volume of a directory-backed libvirt storage pool (repeatable; the first is vda).") var disk: [String] = []
        @Option(help: "A new disk that is a qcow2 overlay on a base image: BASE@DIRECTORY, or BASE@DIRECTORY@SIZE_GiB to make it bigger (repeatable, after the --disk ones).") var diskFrom: [String] = []
        @Option(help: "A NIC: user, network=NAME or bridge=NAME, optionally ,mac=XX:… (repeatable).") var nic: [String] = []
        @Option(help: "Boot order, comma-separated: hd, network, cdrom.") var boot = "hd"
        @Option(help: "libvirt domain type: kvm or qemu (TCG).") var virtType = "kvm"
        @Option(help: "Boot this kernel directly (a file on vigild's host; no boot loader, --boot unused).") var kernel: String?
        @Option(help: "The initrd for --kernel.") var initrd: String?
        @Option(help: "The kernel command line for --kernel.") var cmdline: String?
        @Option(help: "Write the serial console to this file (default: a pty for 'virsh console').") var consoleLog: String?
        @Option(help: "A second serial port on this unix socket (e.g. a root shell).") var serialSocket: String?
        @Flag(help: "Start it once defined.") var start = false

        func run() async throws {
            let disks = try disk.map { spec -> VMCreateRequest.DiskSpec in
                let parts = spec.split(separator: "@", maxSplits: 1).map(String.init)
                guard parts.count == 2, let size = Double(parts[0].trimmed(["g", "G"])) else {
                    throw ValidationError("--disk takes SIZE_GiB@DIRECTORY or SIZE_GiB@pool:POOL, e.g. 20@/srv/vms or 20@pool:default; got '\(spec)'")
                }
                if parts[1].hasPrefix("pool:") { return .init(sizeGiB: size, pool: String(parts[1].dropFirst(5))) }
                return .init(sizeGiB: size, directory: Self.absolute(parts[1]))
            }
            let overlays = try diskFrom.map { spec -> VMCreateRequest.DiskSpec in
                let parts = spec.split(separator: "@").map(String.init)
                guard parts.count == 2 || parts.count == 3, let size = parts.count == 3 ? Double(parts[2].trimmed(["g", "G"])) : 0 else {
                    throw ValidationError("--disk-from takes BASE@DIRECTORY or BASE@DIRECTORY@SIZE_GiB, e.g. /srv/golden/debian.qcow2@/srv/vms; got '\(spec)'")
                }
                return .init(sizeGiB: size, directory: Self.absolute(parts[1]), base: Self.absolute(parts[0]))
            }
            let nics = try nic.map { spec -> VMCreateRequest.NICSpec in
                var n = VMCreateRequest.NICSpec(kind: "")
                for field in spec.split(separator: ",") {
                    let kv = field.split(separator: "=", maxSplits: 1).map(String.init)
                    switch kv[0] {
                    case "user": n.kind = "user"
                    case "network" where kv.count == 2, "bridge" where kv.count == 2: n.kind = kv[0]; n.source = kv[1]
                    case "mac" where kv.count == 2: n.mac = kv[1]
                    default: throw ValidationError("--nic takes user, network=NAME or bridge=NAME[,mac=…]; got '\(spec)'")
                    }
                }
                return n
            }
            let request = VMCreateRequest(name: name, vcpus: vcpus, memoryMiB: memory, disks: disks + overlays, nics: nics,
                                          boot: boot.split(separator: ",").map(String.init), virtType: virtType, start: start,
                                          kernel: kernel.map(Self.absolute), initrd: initrd.map(Self.absolute), cmdline: cmdline,
                                          consoleLog: consoleLog.map(Self.absolute), serialSocket: serialSocket.map(Self.absolute))
            let response = try await global.client.send(method: .POST, path: "/v1/vms", body: Array(try JSONEncoder().encode(request)))
            if global.json { return print(response.text) }
            let v = try response.decode(VMSummary.self)
            print("created \(v.name) (\(v.uuid)): \(v.state)")
        }

        /// Paths go to vigild absolute (it may run elsewhere than the CLI's directory).
        static func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
    }
}
