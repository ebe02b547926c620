import ArgumentParser
import Core
import FoundationEssentials

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Backups of VMs: full, incremental and differential, to a directory or an SSH server; restore, verify, delete.",
        discussion: """
            A backup copies the VM's own disks (only the blocks changed since the backup it builds \
            on, for an incremental or differential) and its definition, with its settings and \
            policy. Running VMs are copied live; shut-off ones are started paused for the copy and \
            stopped again. Destinations are a directory (/srv/backup) or ssh://[USER@]HOST[:PORT]/PATH, \
            listed and restored the same way; vigild's --backup-destination is the default.
            """,
        subcommands: [Create.self, List.self, Restore.self, Verify.self, Delete.self, BackupPolicyCommand.self])

    static func query(_ pairs: [(String, String?)]) -> String {
        let set = pairs.compactMap { k, v in v.map { "\(k)=\($0.percentEscaped)" } }
        return set.isEmpty ? "" : "?" + set.joined(separator: "&")
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Back up a VM.",
            discussion: """
                --level auto (the default) takes an incremental when the VM's last backup in the \
                destination and its checkpoint are usable, else a full, saying why. incremental and \
                differential refuse instead of falling back. --keep N then removes the VM's oldest \
                backups beyond N, never one that a kept backup builds on.
                Example: vigil backup create web1 --destination ssh://backup@10.0.0.5/srv/vigil --keep 7
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID).") var vm: String
        @Option(help: "full, incremental, differential or auto.") var level: BackupLevel?
        @Option(help: "A directory or ssh://[USER@]HOST[:PORT]/PATH (default: vigild's --backup-destination).") var destination: String?
        @Option(help: "Keep this many of the VM's backups in the destination (and what they need).") var keep: Int?
        @Flag(help: "Store the images zstd-compressed.") var compress = false
        @Option(help: "Cap on the rate data is written to the destination, MiB/s.") var rateLimit: Int?
        @Option(help: "Scratch directory on this host (default: vigild's --backup-temp-dir).") var tempDir: String?
        @Flag(help: "Refuse unless the guest's filesystems can be frozen.") var quiesce = false
        @Flag(help: "Do not freeze the guest's filesystems.") var noQuiesce = false
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func validate() throws {
            if quiesce && noQuiesce { throw ValidationError("give --quiesce or --no-quiesce, not both") }
        }

        func run() async throws {
            let request = BackupRequest(level: level, destination: destination, tempDirectory: tempDir, compress: compress ? true : nil,
                                        keep: keep, rateLimitMiBs: rateLimit, quiesce: quiesce ? true : (noQuiesce ? false : nil))
            let response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/backups" + (noWait ? "" : "?wait=60"),
                                                         body: Array(try JSONEncoder().encode(request)))
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "Backups in a destination (of one VM, or all), oldest first.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID); a VM deleted since is found by its name too.") var vm: String?
        @Option(help: "A directory or ssh:// URL (default: vigild's --backup-destination).") var destination: String?

        func run() async throws {
            let response = try await global.client.get("/v1/backups" + BackupCommand.query([("vm", vm), ("destination", destination)]))
            if global.json { return print(response.text) }
            let list = try response.decode(BackupList.self)
            guard !list.backups.isEmpty else { return print("no backups\(vm.map { " of \($0)" } ?? "") in \(list.destination)") }
            print(Table.render(header: ["BACKUP", "VM", "LEVEL", "ON", "CREATED", "STORED", "CONSISTENCY", "BY"], rows: list.backups.map {
                [$0.id, $0.vm, $0.level.rawValue, $0.parent ?? "-", TextFormat.localTime($0.created), "\($0.storedBytes >> 20) MiB",
                 $0.consistency, $0.policy.map { "policy \($0)" } ?? "hand"]
            }))
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restore", abstract: "Restore a backup as a new VM, or over the original.",
            discussion: """
                The backup's chain (it and every backup it builds on) becomes one independent image \
                per disk. --name NEW makes a new VM beside the original (new UUID and MACs); \
                --in-place puts the original's definition and disks back as they were (refused while \
                it runs unless --force, which powers it off; its old images are removed afterwards).
                Example: vigil backup restore 20261202-061503-3fa2 --name web1-restored --start
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The backup id ('vigil backup list').") var backup: String
        @Option(help: "Name of the new VM.") var name: String?
        @Flag(help: "Restore over the original VM.") var inPlace = false
        @Flag(help: "With --in-place: power the original off if it runs.") var force = false
        @Option(help: "Directory for the restored disks (default: where the original's were).") var storage: String?
        @Option(help: "Or a libvirt storage pool (dir, fs or netfs).") var pool: String?
        @Flag(help: "Start the VM once restored.") var start = false
        @Option(help: "A directory or ssh:// URL (default: vigild's --backup-destination).") var destination: String?
        @Option(help: "Scratch directory for remote or compressed chains.") var tempDir: String?
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func run() async throws {
            let request = BackupRestoreRequest(destination: destination, name: name, inPlace: inPlace ? true : nil, force: force ? true : nil,
                                               storageDirectory: storage, storagePool: pool, start: start ? true : nil, tempDirectory: tempDir)
            let response = try await global.client.send(method: .POST, path: "/v1/backups/\(backup.percentEscaped)/restore" + (noWait ? "" : "?wait=60"),
                                                         body: Array(try JSONEncoder().encode(request)))
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Recompute a backup's checksums (with every backup it builds on), or all of a VM's.",
            discussion: "Exits 1 when something is damaged, naming the backup, the disk and the byte ranges.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The backup id.") var backup: String?
        @Option(help: "Every backup of this VM instead.") var vm: String?
        @Option(help: "A directory or ssh:// URL (default: vigild's --backup-destination).") var destination: String?

        func validate() throws {
            if backup != nil && vm != nil { throw ValidationError("give a backup id or --vm, not both") }
        }

        func run() async throws {
            let path = backup.map { "/v1/backups/\($0.percentEscaped)/verify" } ?? "/v1/backups/verify"
            let response = try await global.client.send(method: .POST, path: path + BackupCommand.query([("vm", vm), ("destination", destination)]),
                                                         body: [])
            let result = try response.decode(BackupVerifyResult.self)
            if global.json { print(response.text) } else {
                print("checked \(result.checked.count) backup(s), \(result.bytesRead >> 20) MiB read: \(result.ok ? "intact" : "DAMAGED")")
                for d in result.damage {
                    print("  backup \(d.backup) disk \(d.disk): bytes \(d.offset)-\(d.offset + d.length): \(d.problem)")
                }
            }
            if !result.ok { throw ExitCode(1) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Delete one backup (refused while a later backup builds on it).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The backup id.") var backup: String
        @Option(help: "A directory or ssh:// URL (default: vigild's --backup-destination).") var destination: String?

        func run() async throws {
            let response = try await global.client.send(method: .DELETE,
                                                         path: "/v1/backups/\(backup.percentEscaped)" + BackupCommand.query([("destination", destination)]),
                                                         body: [])
            if global.json { return print(response.text) }
            print("backup \(backup) deleted")
        }
    }
}

extension BackupLevel: ExpressibleByArgument {}
