import Crypto
import FoundationEssentials

/// Building, signing and verifying packages (swift-crypto: Ed25519, SHA-256).
extension AgentPackage {
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

    /// Checks the binary against the manifest and the manifest's signature
    /// against `trusted` keys (none: only the hash and size are checked).
    public static func verify<C: Collection>(_ m: AgentPackageManifest, binary: C,
                                             trusted: [Curve25519.Signing.PublicKey]?) throws(PackageError)
        where C.Element == UInt8 {
        guard binary.count == m.size else { throw .sizeMismatch(expected: m.size, actual: binary.count) }
        guard hex(SHA256.hash(data: Array(binary))) == m.sha256 else { throw .hashMismatch }
        // The agent's strict Base64, not Data(base64Encoded:), which also takes
        // a stray "=" after the padding (FuzzAgentPackage): one reading everywhere.
        guard !m.signature.isEmpty, let signature = Base64.decode(m.signature) else { throw .unsigned }
        guard let trusted else { return }
        guard let key = trusted.first(where: { keyID($0) == m.keyID }) else { throw .untrustedKey(m.keyID) }
        guard key.isValidSignature(signature, for: signedBytes(m)) else { throw .badSignature }
    }
}
