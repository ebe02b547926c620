import ArgumentParser
import Core
import FoundationEssentials

extension VMCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Move a VM to another host (live when it runs, offline when shut off).",
            discussion: """
                Every reason the destination cannot take the VM (its disks not on storage both hosts \
                see, a missing network, an incompatible CPU model, too little free memory, a VM of the \
                same name or UUID there) is reported at once, before anything moves. A live migration \
                is peer to peer: the guest keeps running and moves with its memory; it stays defined on \
                the destination and is undefined here once it runs there. --timeout pauses the source \
                when the migration has not converged by then, so it completes, and the guest resumes \
                on the destination (or, with --postcopy, switches to post-copy instead: it always \
                completes unless its link breaks, and then the guest restarts here from its disks). The move is a journalled operation: \
                'vigil op cancel ID' aborts it, and a vigild killed halfway leaves the VM running on \
                exactly one host, defined once. Each migration is kept: 'vigil vm migrations VM'. \
                Disks that are not on storage both hosts see move with the VM: --storage-dir DIR or \
                --storage-pool POOL names where on the destination (live: copied over NBD while the \
                guest runs; offline: uploaded through the destination's libvirtd); the images here are \
                removed afterwards unless --keep-old.
                Example: vigil vm migrate web1 --to qemu+tcp://cvk2/system --timeout 60 --compress xbzrle
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM to move (name or UUID).") var vm: String
        @Option(name: .customLong("to"), help: "The destination host's libvirt URI.") var destination: String
        @Flag(help: "Offline: move a shut-off VM's definition (the default for a shut-off VM).") var offline = false
        @Option(help: "Seconds before a migration that has not converged pauses the source so it completes.") var timeout: Int?
        @Option(help: "Compression: xbzrle or mt.") var compress: String?
        @Option(help: "Compression level for mt (0-9).") var compressLevel: Int?
        @Option(help: "Compression threads for mt.") var compressThreads: Int?
        @Option(help: "Bandwidth cap in MiB/s.") var bandwidth: Int?
        @Flag(help: "Throttle the guest's vCPUs when memory is dirtied faster than it moves.") var autoConverge = false
        @Option(help: "Longest pause allowed at the switch-over, in ms (QEMU's default: 300).") var maxDowntime: Int?
        @Flag(help: """
            Switch to post-copy at the timeout instead of pausing (without --timeout: after the first \
            full pass). It always converges, but if its link breaks the guest's memory is split between \
            the hosts: vigild then powers it off on both and starts it again here from its disks.
            """) var postcopy = false
        @Option(help: "Move the disks too, into this directory on the destination.") var storageDir: String?
        @Option(help: "Or into this storage pool on the destination.") var storagePool: String?
        @Flag(help: "With a storage move: keep the images here.") var keepOld = false
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func run() async throws {
            let request = MigrationRequest(destination: destination, live: offline ? false : nil, timeoutSeconds: timeout,
                                           compress: compress, compressLevel: compressLevel, compressThreads: compressThreads,
                                           bandwidthMiBs: bandwidth, autoConverge: autoConverge ? true : nil,
                                           maxDowntimeMs: maxDowntime, postcopy: postcopy ? true : nil,
                                           storageDirectory: storageDir, storagePool: storagePool, keepOld: keepOld ? true : nil)
            let response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/migrate" + (noWait ? "" : "?wait=60"),
                                                         body: Array(try JSONEncoder().encode(request)))
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }

    struct Migrations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrations", abstract: "The migration history of a VM, or of this host with --all.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID).") var vm: String?
        @Flag(help: "Every migration this host started.") var all = false

        func validate() throws {
            if (vm == nil) == !all { throw ValidationError("name a VM, or give --all") }
        }

        func run() async throws {
            let path = vm.map { "/v1/vms/\($0.percentEscaped)/migrations" } ?? "/v1/migrations"
            let response = try await global.client.get(path)
            if global.json { return print(response.text) }
            let history = try response.decode(MigrationHistory.self).migrations
            func ms(_ v: Double?) -> String { v.map { "\(Int($0)) ms" } ?? "-" }
            print(Table.render(header: ["STARTED", "VM", "FROM -> TO", "KIND", "RESULT", "TOTAL", "DOWNTIME", "MOVED", "ITER", "OPTIONS"], rows: history.map {
                [TextFormat.localTime($0.started), $0.vmName, "\($0.source) -> \($0.destination)", $0.kind,
                 $0.result + ($0.pausedByTimeout ? " (paused at timeout)" : ""), ms($0.totalMs), ms($0.downtimeMs),
                 $0.dataBytes.map { "\($0 / 1_048_576) MiB" } ?? "-", $0.iterations.map(String.init) ?? "-",
                 $0.options.isEmpty ? "-" : $0.options]
            }))
        }
    }
}

extension VMCommand {
    struct MoveStorage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "move-storage",
            abstract: "Move a VM's disks to another directory or storage pool on this host.",
            discussion: """
                A running VM keeps running: each disk is copied while QEMU mirrors every new write, \
                then the VM switches to the copy (pivot) and its definition follows. A shut-off VM's \
                disks are copied and its definition changed. Each disk's backing chain is flattened \
                into the copy. The old images are removed once every disk runs on its copy (not those \
                another VM reads through), unless --keep-old. Refused while the VM has snapshots.
                Example: vigil vm move-storage web1 --pool fast-ssd
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM (name or UUID).") var vm: String
        @Option(name: .customLong("dir"), help: "The directory the disks go to.") var directory: String?
        @Option(help: "Or a libvirt storage pool (dir, fs or netfs).") var pool: String?
        @Flag(help: "Keep the old images.") var keepOld = false
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func run() async throws {
            let request = StorageMoveRequest(directory: directory, pool: pool, keepOld: keepOld ? true : nil)
            let response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/move-storage" + (noWait ? "" : "?wait=60"),
                                                         body: Array(try JSONEncoder().encode(request)))
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }
}
