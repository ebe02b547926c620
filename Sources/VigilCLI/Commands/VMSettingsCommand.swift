import ArgumentParser
import Core
import FoundationEssentials

extension VMCommand {
    struct Settings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "settings",
            abstract: "Show or change a VM's settings.",
            discussion: """
                Without options, shows them all. Display name, description and I/O weight are libvirt's own \
                fields (<title>, <description>, <blkiotune><weight>); the crash action is the VM's policy \
                (see 'vigil policy'); the rest is kept in the VM's Vigil metadata. All travel with the VM. \
                Changes apply to the persistent definition and, when the VM runs, live where libvirt can. \
                With HA off, vigild records guest failures but neither restarts nor migrates the VM. \
                The HA priority orders recoveries when several VMs need one at once (high first).
                Example: vigil vm settings web1 --display-name "Web front 1" --io-weight 800 --ha-priority high
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Option(help: "A name for people (libvirt title, one line; \"\" removes it).") var displayName: String?
        @Option(help: "Free text about the VM (\"\" removes it).") var description: String?
        @Option(help: "Share of disk bandwidth against other VMs, 100-1000 (blkio weight).") var ioWeight: Int?
        @Option(help: "Action on guest failure: restart, migrate or ignore.") var onCrash: CrashAction?
        @Option(help: "High availability (restart or migrate on guest failure): on or off.") var ha: Switch?
        @Option(help: "HA restart priority: high, medium or low.") var haPriority: HAPriority?
        @Option(help: "Eligible for automatic migration by load balancing (DRS/DPM): on or off.") var autoMigrate: Switch?
        @Option(help: "Keep the guest clock on the host's time: on or off.") var timeSync: Switch?
        @Option(help: "Upgrade the guest's agent from vigild's repository: on or off.") var autoUpgrade: Switch?

        enum Switch: String, ExpressibleByArgument, CaseIterable {
            case on, off
            var isOn: Bool { self == .on }
        }

        func validate() throws {
            if let w = ioWeight, !VMSettingsDocument.ioWeightRange.contains(w) {
                throw ValidationError("--io-weight must be 100 to 1000, got \(w)")
            }
        }

        func run() async throws {
            let path = "/v1/vms/\(vm.percentEscaped)/settings"
            let change = VMSettingsDocument(displayName: displayName, description: description, ioWeight: ioWeight, onCrash: onCrash,
                                            haEnabled: ha?.isOn, haPriority: haPriority, autoMigrate: autoMigrate?.isOn,
                                            timeSync: timeSync?.isOn, autoUpgrade: autoUpgrade?.isOn)
            let response = change == VMSettingsDocument() ? try await global.client.get(path)
                : try await global.client.send(method: .PUT, path: path, body: Array(try JSONEncoder().encode(change)))
            if global.json { return print(response.text) }
            let s = try response.decode(VMSettingsDocument.self)
            func onOff(_ v: Bool?) -> String { v == true ? "on" : "off" }
            let rows: [(String, String)] = [
                ("VM", s.vm ?? vm),
                ("display name", s.displayName ?? "-"),
                ("description", s.description ?? "-"),
                ("I/O weight", s.ioWeight.map(String.init) ?? "default"),
                ("on crash", s.onCrash?.rawValue ?? "-"),
                ("HA", onOff(s.haEnabled) + " (priority \(s.haPriority?.rawValue ?? "-"))"),
                ("auto-migration", onOff(s.autoMigrate)),
                ("time sync", onOff(s.timeSync)),
                ("auto-upgrade", onOff(s.autoUpgrade)),
            ]
            for (k, v) in rows { print(k.padding(16) + v) }
            for note in s.notes ?? [] { print("note: \(note)") }
        }
    }
}

extension HAPriority: ExpressibleByArgument {}
