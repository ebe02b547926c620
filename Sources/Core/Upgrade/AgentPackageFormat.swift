import FoundationEssentials

/// A vigil-agent package: `VIGILPKG1\n`, one line of manifest JSON, then the
/// binary. The signature covers name, version, arch, size and hash, so the
/// manifest cannot be edited and the binary cannot be swapped. This file is
/// the format alone, crypto-free, so FuzzAgentPackage compiles it as it is;
/// signing and verifying: AgentPackage+Signing.swift.
public enum AgentPackage {
    public static let magic = Array("VIGILPKG1\n".utf8)

    public static func signedBytes(_ m: AgentPackageManifest) -> [UInt8] {
        Array("vigil-agent-package/1\n\(m.name)\n\(m.version)\n\(m.arch)\n\(m.size)\n\(m.sha256)\n".utf8)
    }

    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 { PackageKeys.hex(bytes) }

    /// Splits a package into manifest and binary (nothing is trusted yet).
    public static func parse(_ bytes: [UInt8]) throws(PackageError) -> (AgentPackageManifest, ArraySlice<UInt8>) {
        guard bytes.starts(with: magic) else { throw .notAPackage }
        let rest = bytes[magic.count...]
        guard let nl = rest.firstIndex(of: UInt8(ascii: "\n")) else { throw .badManifest("no end of manifest line") }
        let manifest: AgentPackageManifest
        do {
            manifest = try JSONDecoder().decode(AgentPackageManifest.self, from: Data(rest[rest.startIndex..<nl]))
        } catch {
            throw .badManifest("\(error)".prefix(200).description)
        }
        return (manifest, rest[(nl + 1)...])
    }
}
