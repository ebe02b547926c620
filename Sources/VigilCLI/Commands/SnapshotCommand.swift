import ArgumentParser
import Core
import FoundationEssentials

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Snapshots of a VM: take, list as a tree, revert, delete; and snapshot policies.",
        discussion: """
            Vigil takes external snapshots: each disk's image at that moment stays read-only and the \
            VM goes on on a new overlay beside it. They work on running and shut-off VMs, disk-only \
            or with memory. Revert and delete work anywhere in the tree; a delete merges the \
            snapshot's data into what depends on it (online, by a block pull, when the VM runs).
            """,
        subcommands: [Create.self, List.self, Revert.self, Delete.self, SnapshotPolicyCommand.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Take a snapshot of a VM.",
            discussion: """
                A running VM's disks are snapshotted with its filesystems frozen by its guest agent when \
                it has one (--no-quiesce: without; --quiesce: refuse when it cannot be frozen). --memory \
                also saves its memory, live, so a revert resumes it where it was; a memory snapshot not \
                finished after --timeout seconds pauses the VM so it completes, then resumes it.
                Example: vigil snapshot create web1 before-upgrade --memory --timeout 30
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID).") var vm: String
        @Argument(help: "The snapshot's name (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "What the snapshot is for.") var description: String?
        @Flag(help: "Also save the running VM's memory.") var memory = false
        @Flag(help: "Refuse unless the guest's filesystems can be frozen.") var quiesce = false
        @Flag(help: "Do not freeze the guest's filesystems.") var noQuiesce = false
        @Option(help: "Seconds after which a memory snapshot pauses the VM so it completes.") var timeout: Int?
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func validate() throws {
            if quiesce && noQuiesce { throw ValidationError("give --quiesce or --no-quiesce, not both") }
        }

        func run() async throws {
            let request = SnapshotRequest(name: name, description: description, memory: memory ? true : nil,
                                          quiesce: quiesce ? true : (noQuiesce ? false : nil), timeoutSeconds: timeout)
            let response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/snapshots" + (noWait ? "" : "?wait=60"),
                                                         body: Array(try JSONEncoder().encode(request)))
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "A VM's snapshots as a tree; '*' marks where the VM stands.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID).") var vm: String

        func run() async throws {
            let response = try await global.client.get("/v1/vms/\(vm.percentEscaped)/snapshots")
            if global.json { return print(response.text) }
            let list = try response.decode(SnapshotList.self)
            guard !list.snapshots.isEmpty else { return print("\(list.vm) has no snapshots") }
            print(Table.render(header: ["SNAPSHOT", "CREATED", "STATE", "MEMORY", "DISK", "BY", "DESCRIPTION"], rows: list.snapshots.map {
                [String(repeating: "  ", count: $0.depth) + ($0.depth > 0 ? "└ " : "") + $0.name + ($0.current ? " *" : ""),
                 TextFormat.localTime($0.created), $0.state, $0.memory ? "\($0.memoryBytes >> 20) MiB" : "-",
                 "\($0.diskBytes >> 20) MiB", $0.policy.map { "policy \($0)" } ?? "hand", $0.description ?? ""]
            }))
        }
    }

    struct Revert: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revert", abstract: "Bring a VM back to a snapshot (what it holds since is lost).",
            discussion: """
                The VM's disks go back to the snapshot; a memory snapshot also brings it back running \
                where it was (its clock is synced after). A disk-only snapshot leaves it shut off \
                unless --start. The VM's settings stay as they are now.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID).") var vm: String
        @Argument(help: "The snapshot.") var name: String
        @Flag(help: "Start the VM after reverting to a snapshot without memory.") var start = false
        @Flag(help: "Leave a memory snapshot's VM paused.") var paused = false
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func run() async throws {
            let request = SnapshotRevertRequest(start: start ? true : nil, paused: paused ? true : nil)
            let response = try await global.client.send(method: .POST,
                                                         path: "/v1/vms/\(vm.percentEscaped)/snapshots/\(name.percentEscaped)/revert" + (noWait ? "" : "?wait=60"),
                                                         body: Array(try JSONEncoder().encode(request)))
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Delete a snapshot (its data merged into what depends on it), or with --subtree everything below it too.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID).") var vm: String
        @Argument(help: "The snapshot.") var name: String
        @Flag(help: "Also delete every snapshot below it.") var subtree = false
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func run() async throws {
            var query = [String]()
            if subtree { query.append("subtree=true") }
            if !noWait { query.append("wait=60") }
            let path = "/v1/vms/\(vm.percentEscaped)/snapshots/\(name.percentEscaped)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let response = try await global.client.send(method: .DELETE, path: path, body: nil)
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }
}

struct SnapshotPolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Scheduled snapshots: set, list, delete policies.",
        subcommands: [Set.self, List.self, Delete.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Create or replace a snapshot policy.",
            discussion: """
                Each run snapshots every VM of the policy, then deletes the policy's oldest snapshots of \
                that VM beyond --keep; snapshots taken by hand are never touched. A VM whose storage \
                has less than --min-free percent free is skipped (logged).
                Example: vigil snapshot policy set nightly --vm web1 --vm db1 --schedule 'daily 02:00' --keep 7
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The policy's name.") var name: String
        @Option(name: .customLong("vm"), help: "A VM it covers (repeat for more).") var vms: [String] = []
        @Option(help: "'every 30s|15m|6h|1d', 'daily HH:MM' or 'weekly mon,thu HH:MM' (host's local time).") var schedule: String
        @Option(help: "How many of its snapshots to keep per VM.") var keep: Int
        @Flag(help: "Save running VMs' memory too.") var memory = false
        @Option(help: "Skip a VM whose storage has less free space than this percentage.") var minFree = 10

        func run() async throws {
            let parsed: Schedule
            do { parsed = try Schedule(parsing: schedule) } catch { throw ValidationError("\(error)") }
            let policy = SnapshotPolicy(name: name, vms: vms, schedule: parsed, keep: keep, memory: memory, minFreePercent: minFree)
            let response = try await global.client.send(method: .PUT, path: "/v1/snapshot-policies/\(name.percentEscaped)",
                                                         body: Array(try JSONEncoder().encode(policy)))
            if global.json { return print(response.text) }
            let saved = try response.decode(SnapshotPolicy.self)
            print("policy \(saved.name): \(saved.vms.joined(separator: ", ")), \(saved.schedule), keep \(saved.keep)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The snapshot policies.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/snapshot-policies")
            if global.json { return print(response.text) }
            let list = try response.decode(SnapshotPolicyList.self).policies
            print(Table.render(header: ["POLICY", "VMS", "SCHEDULE", "KEEP", "MEMORY", "MIN FREE", "LAST RUN"], rows: list.map {
                [$0.name, $0.vms.joined(separator: ","), "\($0.schedule)", "\($0.keep)", $0.memory ? "yes" : "no",
                 "\($0.minFreePercent) %", $0.lastRun.map { TextFormat.localTime($0) } ?? "never"]
            }))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a policy (its snapshots stay).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The policy's name.") var name: String

        func run() async throws {
            _ = try await global.client.send(method: .DELETE, path: "/v1/snapshot-policies/\(name.percentEscaped)", body: nil)
            if !global.json { print("policy \(name) deleted") }
        }
    }
}
