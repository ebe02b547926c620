import ArgumentParser
import Core
import FoundationEssentials

/// The power commands share one request and one way of printing the result.
protocol PowerCommand: AsyncParsableCommand {
    var global: GlobalOptions { get }
    var vm: String { get }
    var action: PowerAction { get }
    var force: Bool { get }
}

protocol PowerTag {
    static var action: PowerAction { get }
    static var abstract: String { get }
}

extension PowerCommand {
    var force: Bool { false }

    func run() async throws {
        let body = try JSONEncoder().encode(PowerRequest(action: action, force: force))
        let response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/power", body: Array(body))
        if global.json { return print(response.text) }
        let v = try response.decode(VMSummary.self)
        print("\(v.name): \(action.rawValue) done; now \(v.state) (\(v.stateReason))")
    }
}

extension VMCommand {
    struct Start: PowerCommand {
        static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a shut-off VM.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        var action: PowerAction { .start }
    }

    struct Shutdown: PowerCommand {
        static let configuration = CommandConfiguration(commandName: "shutdown", abstract: "Ask the guest to shut down (ACPI power button, or its agent).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Flag(help: "Through the guest agent's qemu-guest-agent channel instead of ACPI.") var agent = false
        var action: PowerAction { agent ? .shutdownAgent : .shutdown }
    }

    struct Poweroff: PowerCommand {
        static let configuration = CommandConfiguration(commandName: "poweroff", abstract: "Pull the plug at once (needs --force: the guest loses unsaved data).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Flag(help: "Yes, power it off without asking the guest.") var force = false
        var action: PowerAction { .poweroff }
    }

    /// Power commands that take nothing but the VM: one generic command,
    /// told apart by a tag type (ArgumentParser needs a type per subcommand).
    struct Simple<Tag: PowerTag>: PowerCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: Tag.action.rawValue, abstract: Tag.abstract)
        }
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        var action: PowerAction { Tag.action }
    }

    enum PauseTag: PowerTag {
        static let action = PowerAction.pause
        static let abstract = "Pause a running VM (its vCPUs stop; memory stays)."
    }
    enum ResumeTag: PowerTag {
        static let action = PowerAction.resume
        static let abstract = "Resume a paused VM."
    }
    enum HibernateTag: PowerTag {
        static let action = PowerAction.hibernate
        static let abstract = "Save the VM's memory to disk and stop it (wake restores it)."
    }
    enum WakeTag: PowerTag {
        static let action = PowerAction.wake
        static let abstract = "Restore a hibernated VM where it left off."
    }
    enum RebootTag: PowerTag {
        static let action = PowerAction.reboot
        static let abstract = "Ask the guest to reboot."
    }

    struct Autostart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "autostart", abstract: "Start the VM when the host (libvirtd) starts: on or off.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Argument(help: "on or off.") var setting: Setting

        enum Setting: String, ExpressibleByArgument { case on, off }

        func run() async throws {
            let body = try JSONEncoder().encode(AutostartRequest(enabled: setting == .on))
            let response = try await global.client.send(method: .PUT, path: "/v1/vms/\(vm.percentEscaped)/autostart", body: Array(body))
            if global.json { return print(response.text) }
            print("\(vm): autostart \(setting.rawValue)")
        }
    }
}
