import Crypto
import FoundationEssentials

/// A vigil-agent package: `VIGILPKG1\n`, one line of manifest JSON, then the
/// binary. The signature covers name, version, arch, size and hash, so the
/// manifest cannot be edited and the binary cannot be swapped.
public enum AgentPackage {
    public static let magic = Array("VIGILPKG1\n".utf8)

    public static func signedBytes(_ m: AgentPackageManifest) -> [UInt8] {
        Array("vigil-agent-package/1\n\(m.name)\n\(m.version)\n\(m.arch)\n\(m.size)\n\(m.sha256)\n".utf8)
    }

    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 { PackageKeys.hex(bytes) }

    public static func keyID(_ key: Curve25519.Signing.PublicKey) -> String {
        hex(SHA256.hash(data: key.rawRepresentation).prefix(8))
    }

    /// Builds and signs a package.
    public static func build(binary: [UInt8], version: String, arch: String,
                             key: Curve25519.Signing.PrivateKey) throws -> [UInt8] {
        var m = AgentPackageManifest(version: version, arch: arch, size: binary.count,
                                     sha256: hex(SHA256.hash(data: binary)), keyID: keyID(key.publicKey), signature: "")
        m.signature = try key.signature(for: signedBytes(m)).base64EncodedString()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return magic + Array(try encoder.encode(m)) + [UInt8(ascii: "\n")] + binary
    }

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

    /// Checks the binary against the manifest and the manifest's signature
    /// against `trusted` keys (none: only the hash and size are checked).
    public static func verify<C: Collection>(_ m: AgentPackageManifest, binary: C,
                                             trusted: [Curve25519.Signing.PublicKey]?) throws(PackageError)
        where C.Element == UInt8 {
        guard binary.count == m.size else { throw .sizeMismatch(expected: m.size, actual: binary.count) }
        guard hex(SHA256.hash(data: Array(binary))) == m.sha256 else { throw .hashMismatch }
        guard !m.signature.isEmpty, let signature = Data(base64Encoded: m.signature) else { throw .unsigned }
        guard let trusted else { return }
        guard let key = trusted.first(where: { keyID($0) == m.keyID }) else { throw .untrustedKey(m.keyID) }
        guard key.isValidSignature(signature, for: signedBytes(m)) else { throw .badSignature }
    }

    /// Reads a key file: base64 of the raw 32-byte key, one line.
    public static func readKey(_ text: String) -> [UInt8]? {
        Base64.decode(String(text.filter { !$0.isWhitespace }))
    }
}
