import ArgumentParser
import Core
import FoundationEssentials

struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template", abstract: "VM templates: make, deploy, edit, verify, export, import (also OVA).",
        discussion: """
            A template is a VM definition with read-only disk images and the SHA-256 of each, \
            recorded when it was made and checked on 'verify' and before every deploy. Templates \
            live in vigild's --template-dir (on shared storage, every host sees them). Making, \
            deploying, exporting and importing run as journalled operations ('vigil op').
            """,
        subcommands: [List.self, Show.self, Create.self, Deploy.self, Edit.self, Delete.self, Verify.self,
                      Export.self, Import.self, ImportOVA.self])

    static func post<T: Encodable>(_ global: GlobalOptions, _ path: String, _ body: T) async throws -> APIClient.Response {
        try await global.client.send(method: .POST, path: path, body: Array(try JSONEncoder().encode(body)))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List templates.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/templates")
            if global.json { return print(response.text) }
            let list = try response.decode(TemplateList.self).templates
            print(Table.render(header: ["NAME", "VCPUS", "MEMORY", "DISKS", "SOURCE", "CREATED"], rows: list.map {
                ["\($0.name)", "\($0.vcpus)", "\($0.memoryMiB) MiB", $0.disks.map { "\($0.target) \($0.virtualSize >> 20) MiB" }.joined(separator: ", "),
                 $0.source ?? "-", Date(timeIntervalSince1970: $0.created).formatted(.iso8601)]
            }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a template, its checksums and its linked clones.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Template name.") var name: String

        func run() async throws {
            let response = try await global.client.get("/v1/templates/\(name.percentEscaped)")
            if global.json { return print(response.text) }
            let t = try response.decode(TemplateInfo.self)
            print("\(t.name): \(t.vcpus) vCPU, \(t.memoryMiB) MiB" + (t.description.map { " — \($0)" } ?? ""))
            for d in t.disks { print("  \(d.target)  \(d.virtualSize >> 20) MiB  \(d.format)  sha256 \(d.sha256)") }
            print("  linked clones: " + ((t.linkedClones ?? []).isEmpty ? "none" : (t.linkedClones ?? []).joined(separator: ", ")))
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Make a template from a VM (a copy; --convert turns the shut-off VM itself into the template).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Template name.") var name: String
        @Option(help: "The VM (name or UUID).") var from: String
        @Flag(help: "The VM becomes the template: its disks move in and it is undefined.") var convert = false
        @Option(help: "Free text shown with the template.") var description: String?
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func run() async throws {
            let r = try await post(global, "/v1/templates", TemplateCreateRequest(name: name, vm: from, convert: convert, description: description))
            try await OperationFollower.follow(r, global: global, wait: !noWait)
        }
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deploy",
            abstract: "Make a VM from a template (checksums verified first; new name, UUID and MACs).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Template name.") var template: String
        @Argument(help: "Name of the new VM.") var name: String
        @Flag(help: "Linked: qcow2 overlays on the template's images instead of copies.") var linked = false
        @Option(help: "Directory for the VM's disks (default: vigild's --vm-dir).") var dir: String?
        @Flag(help: "Start the VM once made.") var start = false
        @Flag(help: "Return once started instead of following it.") var noWait = false

        func run() async throws {
            let body = TemplateDeployRequest(name: name, mode: linked ? .linked : .full,
                                             directory: dir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }, start: start)
            let r = try await post(global, "/v1/templates/\(template.percentEscaped)/deploy", body)
            try await OperationFollower.follow(r, global: global, wait: !noWait)
        }
    }

    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "edit", abstract: "Change a template's CPUs, memory, description; grow or add disks.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Template name.") var name: String
        @Option(help: "vCPUs.") var vcpus: Int?
        @Option(help: "Memory in MiB.") var memory: Int?
        @Option(help: "Free text shown with the template.") var description: String?
        @Option(help: "Grow a disk: TARGET=GiB, e.g. vda=20 (repeatable; refused while linked clones use it).") var grow: [String] = []
        @Option(help: "Add an empty virtio disk of this many GiB (repeatable).") var addDisk: [Double] = []

        func run() async throws {
            var sizes: [String: Double] = [:]
            for g in grow {
                let kv = g.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2, let size = Double(kv[1]) else { throw ValidationError("--grow takes TARGET=GiB, e.g. vda=20; got '\(g)'") }
                sizes[kv[0]] = size
            }
            let body = TemplateEditRequest(vcpus: vcpus, memoryMiB: memory, description: description, growDisks: sizes.isEmpty ? nil : sizes,
                                          addDisks: addDisk.isEmpty ? nil : addDisk)
            let r = try await global.client.send(method: .PATCH, path: "/v1/templates/\(name.percentEscaped)", body: Array(try JSONEncoder().encode(body)))
            try await OperationFollower.follow(r, global: global, wait: true)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a template (refused while linked clones use it).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Template name.") var name: String

        func run() async throws {
            let r = try await global.client.send(method: .DELETE, path: "/v1/templates/\(name.percentEscaped)", body: nil)
            if global.json { return print(r.text) }
            print("deleted template \(name)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check a template's images against their recorded checksums.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Template name.") var name: String

        func run() async throws {
            let r = try await global.client.send(method: .POST, path: "/v1/templates/\(name.percentEscaped)/verify", body: nil)
            try await OperationFollower.follow(r, global: global, wait: true)
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Write a template to one archive file (on vigild's host).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Template name.") var name: String
        @Argument(help: "The archive to write (must not exist).") var file: String

        func run() async throws {
            let r = try await post(global, "/v1/templates/\(name.percentEscaped)/export",
                                   TemplateFileRequest(path: URL(fileURLWithPath: file).standardizedFileURL.path))
            try await OperationFollower.follow(r, global: global, wait: true)
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import", abstract: "Import a template archive made by 'vigil template export' (checksums verified).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The archive (on vigild's host).") var file: String
        @Option(help: "Name it this instead of its own name.") var name: String?

        func run() async throws {
            let r = try await post(global, "/v1/templates/import", TemplateFileRequest(path: URL(fileURLWithPath: file).standardizedFileURL.path, name: name))
            try await OperationFollower.follow(r, global: global, wait: true)
        }
    }

    struct ImportOVA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-ova",
            abstract: "Import an OVA as a template: OVF read into a domain, disks converted to qcow2, .mf checksums checked.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The .ova file (on vigild's host).") var file: String
        @Option(help: "Template name (default: the OVF's VM name).") var name: String?
        @Option(help: "libvirt network for its NICs (default: user-mode networking).") var network: String?
        @Option(help: "libvirt domain type: kvm or qemu (TCG).") var virtType: String?

        func run() async throws {
            let body = TemplateFileRequest(path: URL(fileURLWithPath: file).standardizedFileURL.path, name: name, network: network, virtType: virtType)
            let r = try await post(global, "/v1/templates/import-ova", body)
            try await OperationFollower.follow(r, global: global, wait: true)
        }
    }
}
