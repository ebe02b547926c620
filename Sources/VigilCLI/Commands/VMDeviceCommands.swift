import ArgumentParser
import Core
import FoundationEssentials
import NIOHTTP1

extension VMCommand {
    struct Disk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disk",
            abstract: "Add, remove or grow a VM's disks.",
            discussion: "virtio disks change online in a running VM; other buses only take effect at the next boot.",
            subcommands: [Add.self, Remove.self, Grow.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a new qcow2 disk (VM-TARGET.qcow2 in --dir, or a volume of --pool).")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "VM name or UUID.") var vm: String
            @Argument(help: "Size: N (MiB), NM or NG.") var size: String
            @Option(help: "Directory for the qcow2 file.") var dir: String?
            @Option(help: "Or a libvirt storage pool (dir, fs, netfs) to make it as a volume of.") var pool: String?
            @Option(help: "virtio (online), sata, scsi or ide (next boot only).") var bus = "virtio"
            @Flag(help: "Change the definition only: effective at the next boot.") var nextBoot = false

            func validate() throws {
                if (dir == nil) == (pool == nil) { throw ValidationError("give --dir DIR or --pool POOL (one of them)") }
            }

            func run() async throws {
                try await HardwareOutput.send(global, .POST, "/v1/vms/\(vm.percentEscaped)/hardware/disks",
                                              DiskAddRequest(sizeMiB: try Size.mib(size), directory: dir.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                                                             pool: pool, bus: bus, nextBoot: nextBoot ? true : nil))
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a disk; its file is kept unless --delete-file.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "VM name or UUID.") var vm: String
            @Argument(help: "The disk's target, e.g. vdb.") var target: String
            @Flag(help: "Also delete the disk file.") var deleteFile = false
            @Flag(help: "Change the definition only: effective at the next boot.") var nextBoot = false

            func run() async throws {
                try await HardwareOutput.send(global, .DELETE,
                                              "/v1/vms/\(vm.percentEscaped)/hardware/disks/\(target.percentEscaped)?deleteFile=\(deleteFile)&nextBoot=\(nextBoot)")
            }
        }

        struct Grow: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "grow",
                abstract: "Grow a disk to a new total size (online for virtio disks; offline with qemu-img when the VM is off).")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "VM name or UUID.") var vm: String
            @Argument(help: "The disk's target, e.g. vdb.") var target: String
            @Argument(help: "The new size: N (MiB), NM or NG.") var size: String

            func run() async throws {
                try await HardwareOutput.send(global, .POST, "/v1/vms/\(vm.percentEscaped)/hardware/disks/\(target.percentEscaped)/grow",
                                              DiskGrowRequest(sizeMiB: try Size.mib(size)))
            }
        }
    }

    struct NIC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "nic", abstract: "Add or remove a VM's network interfaces (online in a running VM).",
            subcommands: [Add.self, Remove.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a NIC: user, network=NAME or bridge=NAME.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "VM name or UUID.") var vm: String
            @Argument(help: "user, network=NAME or bridge=NAME.") var attachment: String
            @Option(help: "MAC address (default: a new 52:54:00:… one).") var mac: String?
            @Option(help: "Device model: virtio (default), e1000, …") var model: String?
            @Flag(help: "Change the definition only: effective at the next boot.") var nextBoot = false

            func run() async throws {
                let kv = attachment.split(separator: "=", maxSplits: 1).map(String.init)
                try await HardwareOutput.send(global, .POST, "/v1/vms/\(vm.percentEscaped)/hardware/nics",
                                              NICAddRequest(kind: kv[0], source: kv.count == 2 ? kv[1] : nil, mac: mac, model: model,
                                                            nextBoot: nextBoot ? true : nil))
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove the NIC with this MAC address.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "VM name or UUID.") var vm: String
            @Argument(help: "The NIC's MAC address.") var mac: String
            @Flag(help: "Change the definition only: effective at the next boot.") var nextBoot = false

            func run() async throws {
                try await HardwareOutput.send(global, .DELETE, "/v1/vms/\(vm.percentEscaped)/hardware/nics/\(mac.percentEscaped)?nextBoot=\(nextBoot)")
            }
        }
    }
}
