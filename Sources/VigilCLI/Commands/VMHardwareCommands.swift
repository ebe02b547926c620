import ArgumentParser
import Core
import FoundationEssentials
import NIOHTTP1

extension VMCommand {
    struct Hardware: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hardware",
            abstract: "Show a VM's vCPUs, memory, disks and NICs: next boot, running, and what the guest sees (from its agent).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String

        func run() async throws {
            let response = try await global.client.get("/v1/vms/\(vm.percentEscaped)/hardware")
            if global.json { return print(response.text) }
            let r = try response.decode(HardwareReport.self)
            let c = r.config, l = r.live, g = r.guest
            func mib(_ bytes: UInt64?) -> String { bytes.map { "\($0 / 1024 / 1024) MiB" } ?? "-" }
            var rows: [[String]] = [
                ["vCPUs", "\(c.vcpus) (max \(c.maxVcpus))", l.map { "\($0.vcpus) (max \($0.maxVcpus))" } ?? "-", g.map { "\($0.cpusOnline) online" } ?? "-"],
                ["memory", "\(c.memoryMiB) MiB (max \(c.maxMemoryMiB))", l.map { "\($0.memoryMiB) MiB (max \($0.maxMemoryMiB))" } ?? "-",
                 g.map { "MemTotal \($0.memTotalKiB / 1024) MiB" } ?? "-"],
            ]
            let targets = (c.disks.map(\.target) + (l?.disks.map(\.target) ?? [])).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            var guestDisks = g?.disks ?? []
            for t in targets {
                func show(_ d: HardwareLayout.Disk?) -> String { d.map { "\($0.bus) \(mib($0.sizeBytes)) \($0.source ?? "")" } ?? "-" }
                let live = l?.disks.first { $0.target == t }
                // Guest names usually follow the targets for virtio; shown by name when they match.
                let seen = guestDisks.firstIndex { $0.name == t }.map { guestDisks.remove(at: $0) }
                rows.append(["disk \(t)", show(c.disks.first { $0.target == t }), l == nil ? "-" : show(live),
                             seen.map { "\($0.name) \(mib($0.sizeBytes))" } ?? "-"])
            }
            rows += guestDisks.map { ["disk (guest)", "-", "-", "\($0.name) \(mib($0.sizeBytes))"] }
            let macs = (c.nics.map(\.mac) + (l?.nics.map(\.mac) ?? [])).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            for m in macs {
                func show(_ n: HardwareLayout.NIC?) -> String { n.map { "\($0.kind)\($0.source.map { " " + $0 } ?? "") \($0.model ?? "")" } ?? "-" }
                rows.append(["nic \(m)", show(c.nics.first { $0.mac == m }), l == nil ? "-" : show(l?.nics.first { $0.mac == m }),
                             g?.nics.first { $0.mac.lowercased() == m }.map(\.name) ?? "-"])
            }
            print(Table.render(header: ["", "NEXT BOOT", "RUNNING", "GUEST SEES"], rows: rows))
            if let note = r.guestNote { print("guest: \(note)") }
        }
    }

    struct CPU: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cpu", abstract: "Set the number of vCPUs.",
            discussion: """
                A running VM gets vCPUs added at once, up to its maximum; the agent brings them online in the guest. \
                Fewer vCPUs, or a new maximum (--max), take effect at the next boot (--next-boot).
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Argument(help: "The number of vCPUs.") var count: Int
        @Option(help: "A new maximum (next boot).") var max: Int?
        @Flag(help: "Change the definition only: effective at the next boot.") var nextBoot = false

        func run() async throws {
            try await HardwareOutput.send(global, .PUT, "/v1/vms/\(vm.percentEscaped)/hardware/cpu",
                                          CPUChangeRequest(vcpus: count, max: max, nextBoot: nextBoot ? true : nil))
        }
    }

    struct Memory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "memory",
            abstract: "Set the memory size (e.g. 512M, 2G).",
            discussion: """
                A running VM with a memory balloon changes at once within its maximum. Above the maximum, \
                or a new maximum (--max), takes effect at the next boot (--next-boot).
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Argument(help: "Size: N (MiB), NM or NG.") var size: String
        @Option(help: "A new maximum (next boot), same format.") var max: String?
        @Flag(help: "Change the definition only: effective at the next boot.") var nextBoot = false

        func run() async throws {
            try await HardwareOutput.send(global, .PUT, "/v1/vms/\(vm.percentEscaped)/hardware/memory",
                                          MemoryChangeRequest(mib: try Size.mib(size), maxMiB: try max.map(Size.mib), nextBoot: nextBoot ? true : nil))
        }
    }
}

/// Sizes on the command line: N or NM in MiB, NG in GiB.
enum Size {
    static func mib(_ text: String) throws -> Int {
        let t = text.uppercased().replacing("IB", with: "").replacing("B", with: "")
        let (digits, factor) = t.hasSuffix("G") ? (t.dropLast(), 1024.0) : t.hasSuffix("M") ? (t.dropLast(), 1.0) : (Substring(t), 1.0)
        guard let v = Double(digits), v > 0, (v * factor).rounded() == v * factor else {
            throw ValidationError("a size is N (MiB), NM or NG, e.g. 512M or 2G; got '\(text)'")
        }
        return Int(v * factor)
    }
}

/// How every hardware change is sent and printed.
enum HardwareOutput {
    static func send(_ global: GlobalOptions, _ method: HTTPMethod, _ path: String, _ body: (some Encodable)? = nil as String?) async throws {
        let bytes = try body.map { Array(try JSONEncoder().encode($0)) }
        try print(try await global.client.send(method: method, path: path, body: bytes), global)
    }

    static func print(_ response: APIClient.Response, _ global: GlobalOptions) throws {
        if global.json { return Swift.print(response.text) }
        let r = try response.decode(HardwareChangeResult.self)
        Swift.print("\(r.vm): \(r.change) — \(r.effective == .now ? "done now" : "effective at next boot")")
        for note in r.notes { Swift.print("  \(note)") }
        if let g = r.guest {
            let disks = g.disks.map { "\($0.name) \($0.sizeBytes / 1024 / 1024) MiB" }.joined(separator: ", ")
            let nics = g.nics.map { "\($0.name) \($0.mac)" }.joined(separator: ", ")
            Swift.print("  guest sees: \(g.cpusOnline) CPUs online, MemTotal \(g.memTotalKiB / 1024) MiB; disks: \(disks); NICs: \(nics)")
        }
    }
}
