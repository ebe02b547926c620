import ArgumentParser
import Core
import FoundationEssentials

struct BinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bin", abstract: "The recycle bin of deleted VMs ('vigil vm delete').",
        subcommands: [List.self, Restore.self, Purge.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the VMs in the recycle bin.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/recycle-bin")
            if global.json { return print(response.text) }
            let bin = try response.decode(RecycleBinList.self)
            func date(_ t: Double?) -> String { t.map { TextFormat.localTime($0) } ?? "never" }
            print(Table.render(header: ["ID", "NAME", "UUID", "DELETED", "EXPIRES", "DISKS"], rows: bin.entries.map {
                ["\($0.id)", $0.vmName, $0.vmUUID, date($0.deletedAt), date($0.expiresAt),
                 $0.disks.isEmpty ? "left in place" : "\($0.disks.count) in the bin"]
            }))
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restore",
            abstract: "Define a deleted VM again, with its disks back where they were.",
            discussion: "Refused when a VM of that name exists by now (use --name) or a file has taken a disk's old place.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Entry id, or the VM's name or UUID.") var entry: String
        @Option(help: "Restore under this name.") var name: String?

        func run() async throws {
            let body = try JSONEncoder().encode(RestoreRequest(name: name))
            let response = try await global.client.send(method: .POST, path: "/v1/recycle-bin/\(entry.percentEscaped)/restore", body: Array(body))
            if global.json { return print(response.text) }
            let v = try response.decode(VMSummary.self)
            print("restored \(v.name) (\(v.uuid)): \(v.state)")
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "purge", abstract: "Delete an entry and its binned disks for good.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Entry id, or the VM's name or UUID.") var entry: String
        @Flag(help: "Zero-fill the disk images before deleting them.") var wipe = false

        func run() async throws {
            let body = try JSONEncoder().encode(PurgeRequest(wipe: wipe))
            let response = try await global.client.send(method: .POST, path: "/v1/recycle-bin/\(entry.percentEscaped)/purge", body: Array(body))
            if wipe { return try await OperationFollower.follow(response, global: global, wait: true) }
            if global.json { return print(response.text) }
            printDeletion(try response.decode(DeletionResult.self), verb: "purged")
        }
    }
}
