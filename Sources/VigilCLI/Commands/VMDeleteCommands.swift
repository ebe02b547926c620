import ArgumentParser
import Core
import FoundationEssentials

extension VMCommand {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete",
            abstract: "Delete a VM to the recycle bin (restorable with 'vigil bin restore').",
            discussion: """
                The VM's definition is kept in vigild's state and the VM is undefined. With --with-disks, \
                its own disk images (not CD-ROMs, shared or read-only disks) are moved (renamed, never \
                copied) into a .vigil-recycle directory beside them; restore puts them back. A disk another \
                VM uses (also as the backing file of its overlay) is refused. Without --with-disks the disks \
                stay where they are. The VM must be shut off: shut it down first, or pass --force to power it off (a hibernated VM's saved \
                memory is then discarded). A VM with snapshots cannot go to the bin. Entries stay until \
                purged, or until vigild's --recycle-retention-days passes.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Flag(help: "Move the VM's disk images into the bin too.") var withDisks = false
        @Flag(help: "Power the VM off first if it is not shut off.") var force = false

        func run() async throws {
            let body = try JSONEncoder().encode(RecycleRequest(withDisks: withDisks, force: force))
            let response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/recycle", body: Array(body))
            if global.json { return print(response.text) }
            let e = try response.decode(RecycleEntry.self)
            print("\(e.vmName) is in the recycle bin as entry \(e.id)"
                  + (e.disks.isEmpty ? "; its disks stayed in place" : " with \(e.disks.count) disk(s)"))
            print("restore it with: vigil bin restore \(e.id)")
        }
    }

    struct Destroy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "destroy",
            abstract: "Delete a VM permanently (no recycle bin).",
            discussion: """
                Undefines the VM (with its snapshot metadata and saved memory). With --delete-disks its own \
                disk images are deleted too; --wipe zero-fills each of them first (and implies --delete-disks). \
                Disks another VM uses (directly or as the backing file of its overlay) are never deleted. \
                The VM must be shut off, or pass --force to power it off. A wipe runs as a long \
                operation (see 'vigil op'); it cannot be cancelled, and a vigild restart finishes it.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Flag(help: "Delete the VM's disk images too.") var deleteDisks = false
        @Flag(help: "Zero-fill the disk images before deleting them.") var wipe = false
        @Flag(help: "Power the VM off first if it is not shut off.") var force = false
        @Flag(help: "With --wipe: return once the wipe has started instead of following it.") var noWait = false

        func run() async throws {
            let body = try JSONEncoder().encode(DestroyRequest(deleteDisks: deleteDisks, wipe: wipe, force: force))
            let response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/destroy", body: Array(body))
            // A wipe runs as a long operation in vigild: follow it.
            if wipe { return try await OperationFollower.follow(response, global: global, wait: !noWait) }
            if global.json { return print(response.text) }
            printDeletion(try response.decode(DeletionResult.self), verb: "destroyed")
        }
    }
}

func printDeletion(_ r: DeletionResult, verb: String) {
    print("\(r.vm) \(verb)")
    for d in r.deletedDisks { print("  deleted \(d)" + (r.wiped ? " (zero-filled first)" : "")) }
    for d in r.keptDisks { print("  kept    \(d)") }
}
