import ArgumentParser
import Core
import FoundationEssentials

extension VMCommand {
    struct Clone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clone",
            abstract: "Clone a VM (full or linked; shut off or running; here or on another host).",
            discussion: """
                A full clone copies every disk (qemu-img convert; a running VM is copied by a \
                libvirt backup job: crash-consistent, as if it lost power at that instant). A linked \
                clone gets qcow2 overlays on the source's images, which become read-only bases (the \
                source continues on new overlays of its own; a shut-off source that has not \
                written since its last linked clone shares the same bases again, so cloning one \
                golden VM many times keeps its chain one layer deep). The clone gets a new UUID and new MAC \
                addresses; its guest configuration (hostname, static IPs) is the source's, so change it \
                before both share a network. The copy is a journalled operation: Ctrl-C leaves it \
                running; 'vigil op cancel ID' stops it and removes what it made.
                Example: vigil vm clone web1 web2 --dir /srv/vms --start
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The VM to clone (name or UUID).") var source: String
        @Argument(help: "Name of the new VM.") var name: String
        @Flag(help: "Linked clone: qcow2 overlays on the source's images instead of copies.") var linked = false
        @Option(help: "Directory for the new disks (default: next to the source's).") var dir: String?
        @Option(help: "Define the clone on this cluster host (libvirt URI); its disks must be on shared storage.") var host: String?
        @Flag(help: "Start the clone once made.") var start = false
        @Flag(help: "Return once started instead of following the copy.") var noWait = false

        func run() async throws {
            let request = CloneRequest(name: name, mode: linked ? .linked : .full,
                                       directory: dir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }, host: host, start: start)
            let response = try await global.client.send(method: .POST, path: "/v1/vms/\(source.percentEscaped)/clone" + (noWait ? "" : "?wait=60"),
                                                         body: Array(try JSONEncoder().encode(request)))
            try await OperationFollower.follow(response, global: global, wait: !noWait)
        }
    }
}
