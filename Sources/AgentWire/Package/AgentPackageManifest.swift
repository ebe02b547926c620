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
