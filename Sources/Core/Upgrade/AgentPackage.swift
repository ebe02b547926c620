import Crypto
import FoundationEssentials

/// What a signed vigil-agent package says about its binary.
public struct AgentPackageManifest: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    /// `uname -m` of the guests it runs on, e.g. "x86_64".
    public var arch: String
    public var size: Int
    /// Hex SHA-256 of the binary.
    public var sha256: String
    /// Hex SHA-256 of the signing public key, first 8 bytes: which key signed it.
    public var keyID: String
    /// Base64 Ed25519 signature over `AgentPackage.signedBytes(…)`.
    public var signature: String

    public init(name: String = "vigil-agent", version: String, arch: String, size: Int, sha256: String,
                keyID: String, signature: String) {
        self.name = name
        self.version = version
        self.arch = arch
        self.size = size
        self.sha256 = sha256
        self.keyID = keyID
        self.signature = signature
    }
}

/// Why a package is refused. Each case says what is wrong.
public enum PackageError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAPackage
    case badManifest(String)
    case sizeMismatch(expected: Int, actual: Int)
    case hashMismatch
    case unsigned
    case untrustedKey(String)
    case badSignature
    case wrongArch(package: String, machine: String)
    case notNewer(package: String, installed: String)

    public var description: String {
        switch self {
        case .notAPackage: "not a vigil-agent package (no VIGILPKG1 header): make one with 'vigil agent sign'"
        case .badManifest(let why): "the package manifest is unreadable: \(why)"
        case .sizeMismatch(let e, let a): "the binary is \(a) bytes but the manifest says \(e): the package is truncated or tampered with"
        case .hashMismatch: "the binary's SHA-256 does not match the manifest: the package was tampered with"
        case .unsigned: "the package is not signed"
        case .untrustedKey(let id): "the package is signed by key \(id), which this guest does not trust"
        case .badSignature: "the signature does not match the manifest: the package was tampered with"
        case .wrongArch(let p, let m): "the package is for \(p), this machine is \(m)"
        case .notNewer(let p, let i): "the package version \(p) is not newer than the installed \(i)"
        }
    }
}

/// A vigil-agent package: `VIGILPKG1\n`, one line of manifest JSON, then the
/// binary. The signature covers name, version, arch, size and hash, so the
/// manifest cannot be edited and the binary cannot be swapped.
public enum AgentPackage {
    public static let magic = Array("VIGILPKG1\n".utf8)

    public static func signedBytes(_ m: AgentPackageManifest) -> [UInt8] {
        Array("vigil-agent-package/1\n\(m.name)\n\(m.version)\n\(m.arch)\n\(m.size)\n\(m.sha256)\n".utf8)
    }

    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

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
        Data(base64Encoded: String(text.filter { !$0.isWhitespace })).map(Array.init)
    }
}

/// A dotted numeric version ("0.1.10" > "0.1.9").
public struct AgentVersion: Comparable, Sendable, CustomStringConvertible {
    public let parts: [Int]
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: ".").map { Int($0) }
        guard !parts.isEmpty, parts.count <= 4, parts.allSatisfy({ $0 != nil }) else { return nil }
        self.parts = parts.compactMap { $0 }
        description = text
    }

    public static func < (a: AgentVersion, b: AgentVersion) -> Bool {
        for i in 0..<max(a.parts.count, b.parts.count) {
            let x = i < a.parts.count ? a.parts[i] : 0, y = i < b.parts.count ? b.parts[i] : 0
            if x != y { return x < y }
        }
        return false
    }

    public static func == (a: AgentVersion, b: AgentVersion) -> Bool { !(a < b) && !(b < a) }
}
