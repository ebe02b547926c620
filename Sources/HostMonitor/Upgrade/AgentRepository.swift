import Core
import Crypto
import Foundation

/// vigild's store of agent builds: signed packages under
/// `<state-dir>/agent-repo/`, one per version and architecture. Packages are
/// checked on the way in (hash, and signature when vigild has trust keys);
/// the agent checks them again itself before installing.
struct AgentRepository: Sendable {
    let directory: String
    let trustedKeys: [Curve25519.Signing.PublicKey]

    struct Entry: Codable, Sendable {
        var manifest: AgentPackageManifest
        var path: String
    }

    /// `GET /v1/agent-repo` body.
    struct Listing: Codable, Sendable {
        var packages: [Entry]
        var signatureChecked: Bool
    }

    init(stateDirectory: String, trustKeyFiles: [String]) throws {
        directory = stateDirectory + "/agent-repo"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        trustedKeys = try trustKeyFiles.map { path in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), let raw = PackageKeys.read(text),
                  let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                throw RepositoryError("--agent-trust-key \(path) is not a base64 Ed25519 public key (make one with 'vigil agent keygen')")
            }
            return key
        }
    }

    struct RepositoryError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Checks and stores a package file; returns its manifest.
    func add(path: String) throws -> AgentPackageManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RepositoryError("cannot read \(path): give vigild a path it can read (absolute, on this host)")
        }
        let bytes = Array(data)
        let (manifest, binary) = try AgentPackage.parse(bytes)
        try AgentPackage.verify(manifest, binary: binary, trusted: trustedKeys.isEmpty ? nil : trustedKeys)
        guard AgentVersion(manifest.version) != nil else { throw RepositoryError("version '\(manifest.version)' is not dotted numbers") }
        let name = "vigil-agent-\(manifest.version)-\(manifest.arch).vpkg"
        guard !name.contains("/"), !manifest.arch.isEmpty else { throw RepositoryError("bad architecture '\(manifest.arch)'") }
        let target = directory + "/" + name
        let temp = target + ".tmp"
        try Data(bytes).write(to: URL(fileURLWithPath: temp))
        // rename(2): atomic, and a package of the same version is replaced whole.
        guard rename(temp, target) == 0 else {
            try? FileManager.default.removeItem(atPath: temp)
            throw RepositoryError("cannot store \(target): errno \(errno)")
        }
        return manifest
    }

    func list() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".vpkg") }.sorted().compactMap { name in
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path),
                  let (m, _) = try? AgentPackage.parse(Array(data)) else { return nil }
            return Entry(manifest: m, path: path)
        }
    }

    /// The newest package for an architecture.
    func newest(arch: String) -> Entry? {
        list().compactMap { e in AgentVersion(e.manifest.version).map { (e, $0) } }
            .filter { $0.0.manifest.arch == arch }
            .max { $0.1 < $1.1 }?.0
    }

    func binary(of entry: Entry) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: entry.path) else { throw RepositoryError("\(entry.path) vanished") }
        return Array(try AgentPackage.parse(Array(data)).1)
    }
}
