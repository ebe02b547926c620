import Core
import Crypto
import FoundationEssentials
import Glibc

// vigil-agent-verify: checks a staged agent package for vigil-agent, which
// runs it as a short-lived child so swift-crypto and Foundation never load
// into the resident agent (see docs/BENCHMARKS.md, agent section).
//   vigil-agent-verify BINARY MANIFEST-JSON KEYFILE...
// Exit 0: size, SHA-256 and an Ed25519 signature by one of the keys match.
// Exit 1: refused, the reason on stdout. Exit 2: usage.

func finish(_ status: Int32, _ message: String) -> Never {
    let bytes = Array(message.utf8)
    _ = bytes.withUnsafeBytes { write(status == 2 ? STDERR_FILENO : STDOUT_FILENO, $0.baseAddress, $0.count) }
    exit(status)
}

let args = Array(CommandLine.arguments.dropFirst())
guard args.count >= 3 else {
    finish(2, "usage: vigil-agent-verify BINARY MANIFEST-JSON KEYFILE...\n")
}
let manifest: AgentPackageManifest
do {
    manifest = try JSONDecoder().decode(AgentPackageManifest.self, from: Data(args[1].utf8))
} catch {
    finish(1, PackageError.badManifest("\(error)".prefix(200).description).description)
}
let keys = args[2...].compactMap { path -> Curve25519.Signing.PublicKey? in
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 1024)
    let n = read(fd, &buf, buf.count)
    guard n > 0, let raw = PackageKeys.read(String(decoding: buf[0..<n], as: UTF8.self)) else { return nil }
    return try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
}
guard !keys.isEmpty else { finish(1, "no readable trusted key among \(args[2...].joined(separator: ", "))") }

let fd = open(args[0], O_RDONLY | O_CLOEXEC)
guard fd >= 0 else { finish(1, "cannot read the staged binary \(args[0]): errno \(errno)") }
var binary: [UInt8] = []
var chunk = [UInt8](repeating: 0, count: 1 << 20)
while true {
    let n = read(fd, &chunk, chunk.count)
    if n < 0 && errno == EINTR { continue }
    guard n > 0 else { break }
    binary += chunk[0..<n]
    guard binary.count <= manifest.size else { break }
}
close(fd)
do {
    try AgentPackage.verify(manifest, binary: binary, trusted: keys)
} catch {
    finish(1, error.description)
}
exit(0)
