import ArgumentParser
import Core
import Crypto
import FoundationEssentials

extension AgentCommand {
    /// `vigil agent repo add|list`: vigild's store of agent builds.
    struct Repo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "repo",
            abstract: "vigild's repository of signed vigil-agent builds.", subcommands: [Add.self, List.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a signed package (made with 'vigil agent sign').")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "The .vpkg file.") var file: String

            func run() async throws {
                let path = URL(fileURLWithPath: file).standardizedFileURL.path
                let body = try JSONEncoder().encode(["path": path])
                let response = try await global.client.send(method: .POST, path: "/v1/agent-repo", body: Array(body))
                if global.json { return print(response.text) }
                let m = try response.decode(AgentPackageManifest.self)
                print("added vigil-agent \(m.version) for \(m.arch) (\(m.size) bytes, signed by key \(m.keyID))")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "List the builds vigild can install.")
            @OptionGroup var global: GlobalOptions

            func run() async throws {
                let response = try await global.client.get("/v1/agent-repo")
                if global.json { return print(response.text) }
                struct Entry: Decodable { let manifest: AgentPackageManifest }
                struct Body: Decodable { let packages: [Entry]; let signatureChecked: Bool }
                let body = try response.decode(Body.self)
                print(Table.render(header: ["VERSION", "ARCH", "SIZE", "SHA-256", "KEY"], rows: body.packages.map {
                    [$0.manifest.version, $0.manifest.arch, "\($0.manifest.size / 1024) KiB", String($0.manifest.sha256.prefix(16)), $0.manifest.keyID]
                }))
                if !body.signatureChecked { print("(vigild has no --agent-trust-key: signatures are checked by the agents only)") }
            }
        }
    }

    /// `vigil agent upgrade VM | --all [--batch N]`.
    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "upgrade",
            abstract: "Upgrade guest agents to the newest build in the repository.",
            discussion: """
                The agent checks the package's hash and signature, runs the new build on trial \
                and switches only after it completed a handshake; otherwise it rolls back. With \
                --all, VMs are upgraded --batch at a time and a batch with a failure stops the rollout.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String?
        @Flag(help: "Every VM with a connected agent.") var all = false
        @Option(help: "With --all: how many VMs at a time.") var batch = 1

        func validate() throws {
            guard (vm == nil) != (!all) || (vm != nil && !all) else { throw ValidationError("give a VM or --all, not both") }
            if vm == nil && !all { throw ValidationError("give a VM (name or UUID) or --all") }
            if !(1...64).contains(batch) { throw ValidationError("--batch must be 1 to 64") }
        }

        func run() async throws {
            struct Result: Decodable { let vm: String; let from: String?; let to: String?; let outcome: String; let message: String }
            let results: [Result]
            let response: APIClient.Response
            if let vm {
                response = try await global.client.send(method: .POST, path: "/v1/vms/\(vm.percentEscaped)/agent/upgrade", body: nil)
                results = [try response.decode(Result.self)]
            } else {
                let body = try JSONEncoder().encode(["batch": batch])
                response = try await global.client.send(method: .POST, path: "/v1/agents/upgrade", body: Array(body))
                struct Body: Decodable { let results: [Result] }
                results = try response.decode(Body.self).results
            }
            if global.json {
                print(response.text)
            } else {
                print(Table.render(header: ["VM", "FROM", "TO", "OUTCOME", "DETAIL"], rows: results.map {
                    [$0.vm, $0.from ?? "-", $0.to ?? "-", $0.outcome, $0.message]
                }))
            }
            if results.contains(where: { !["upgraded", "up-to-date"].contains($0.outcome) }) { throw ExitCode(1) }
        }
    }

    /// `vigil agent keygen`: a signing key pair for release builds.
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Make an Ed25519 key pair for signing agent builds.",
            discussion: "Writes FILE (private: keep it off the hosts) and FILE.pub (install it in guests as /etc/vigil/agent-trust.pub, and give it to vigild --agent-trust-key).")
        @Option(help: "Private key file to create.") var out: String

        func run() throws {
            guard !FileManager.default.fileExists(atPath: out) else {
                throw ValidationError("\(out) exists; refusing to overwrite a signing key")
            }
            let key = Curve25519.Signing.PrivateKey()
            guard FileManager.default.createFile(atPath: out, contents: Data((key.rawRepresentation.base64EncodedString() + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot write \(out): check that its directory exists and is writable")
            }
            try (key.publicKey.rawRepresentation.base64EncodedString() + "\n").write(toFile: out + ".pub", atomically: true, encoding: .utf8)
            print("wrote \(out) and \(out).pub (key \(AgentPackage.keyID(key.publicKey)))")
        }
    }

    /// `vigil agent sign`: turns a release build into a signed package.
    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sign", abstract: "Sign a vigil-agent binary into a package for 'vigil agent repo add'.")
        @Option(help: "Private key from 'vigil agent keygen'.") var key: String
        @Option(help: "The build's version (what 'vigil-agent --version' prints).") var version: String
        @Option(help: "Architecture the build runs on (uname -m).") var arch = "x86_64"
        @Option(name: .shortAndLong, help: "Package file to write.") var output: String
        @Argument(help: "The vigil-agent binary.") var binary: String

        func run() throws {
            guard AgentVersion(version) != nil else { throw ValidationError("--version must be dotted numbers like 1.2.3") }
            guard let text = try? String(contentsOfFile: key, encoding: .utf8), let raw = PackageKeys.read(text),
                  let privateKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
                throw ValidationError("\(key) is not a private key made by 'vigil agent keygen'")
            }
            guard let bytes = FileManager.default.contents(atPath: binary) else { throw ValidationError("cannot read \(binary)") }
            let package = try AgentPackage.build(binary: Array(bytes), version: version, arch: arch, key: privateKey)
            try Data(package).write(to: URL(fileURLWithPath: output))
            print("wrote \(output): vigil-agent \(version) for \(arch), key \(AgentPackage.keyID(privateKey.publicKey))")
        }
    }
}
