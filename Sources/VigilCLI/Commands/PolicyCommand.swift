import ArgumentParser
import Core
import FoundationEssentials

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "What vigild does when a guest OS fails.",
        subcommands: [Set.self, Show.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set a VM's crash policy (kept in its libvirt metadata).",
            discussion: """
                Unset options keep the VM's current values. Setting a policy also adds what protection \
                needs to the VM's definition if missing (pvpanic device, on_crash=preserve, the agent channel); \
                device changes take effect at the next boot.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Option(name: .long, help: "Action on guest failure: restart, migrate or ignore.") var onCrash: CrashAction?
        @Option(name: .long, help: "Agent heartbeat interval in seconds (0.1-60).") var heartbeatInterval: Double?
        @Option(name: .long, help: "Missed heartbeats in a row that make the guest hung (1-100).") var misses: Int?
        @Option(name: .long, help: "Seconds after boot before heartbeat loss counts.") var minUptime: Int?
        @Option(name: .long, help: "At most this many recoveries per window, then stop and alert.") var maxResets: Int?
        @Option(name: .long, help: "Window for --max-resets, in seconds.") var window: Int?

        func validate() throws {
            if let h = heartbeatInterval, !(0.1...60).contains(h) {
                throw ValidationError("--heartbeat-interval must be between 0.1 and 60 seconds, got \(h)")
            }
            if let m = misses, !(1...100).contains(m) { throw ValidationError("--misses must be 1 to 100, got \(m)") }
        }

        func run() async throws {
            let client = try global.client
            let current = try await client.get("/v1/vms/\(vm.percentEscaped)/policy").decode(PolicyDocument.self)
            var p = current.policy
            if let onCrash { p.onCrash = onCrash }
            if let heartbeatInterval { p.heartbeatIntervalMs = Int((heartbeatInterval * 1000).rounded()) }
            if let misses { p.misses = misses }
            if let minUptime { p.minUptimeSeconds = minUptime }
            if let maxResets { p.maxResets = maxResets }
            if let window { p.windowSeconds = window }
            let body = try JSONEncoder().encode(p)
            let response = try await client.send(method: .PUT, path: "/v1/vms/\(vm.percentEscaped)/policy", body: Array(body))
            if global.json { return print(response.text) }
            struct Update: Decodable { let policy: PolicyDocument; let notes: [String] }
            let update = try response.decode(Update.self)
            PolicyCommand.show(update.policy)
            for note in update.notes { print("note: \(note)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a VM's crash policy.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String

        func run() async throws {
            let response = try await global.client.get("/v1/vms/\(vm.percentEscaped)/policy")
            if global.json { return print(response.text) }
            PolicyCommand.show(try response.decode(PolicyDocument.self))
        }
    }

    static func show(_ doc: PolicyDocument) {
        let p = doc.policy
        let rows: [(String, String)] = [
            ("VM", doc.vm + (doc.isHostDefault ? " (host default policy)" : "")),
            ("On crash", p.onCrash.rawValue),
            ("Heartbeat", "every \(Double(p.heartbeatIntervalMs) / 1000) s, hung after \(p.misses) missed (\(Double(p.heartbeatWindowMs) / 1000) s)"),
            ("Min uptime", "\(p.minUptimeSeconds) s"),
            ("Reset limit", "\(p.maxResets) per \(p.windowSeconds) s"),
        ]
        for (k, v) in rows { print(k.padding(13) + v) }
    }
}

extension CrashAction: ExpressibleByArgument {}

