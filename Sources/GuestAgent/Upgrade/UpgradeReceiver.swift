import AgentWire
import Glibc

/// Receives an offered agent package chunk by chunk into a staging file
/// named by its hash (so an interrupted transfer resumes where it stopped),
/// and checks everything before anything is installed: name, architecture,
/// newer version, trusted signing key here; size, SHA-256 and signature in
/// `vigil-agent-verify`, a child process (crypto stays out of this one).
final class UpgradeReceiver {
    static let maxBytes = 128 * 1024 * 1024
    let stagingDirectory: String
    let trustedKeys: [TrustedKey]
    let verifier: String

    /// A trusted public key file and the id manifests name it by.
    struct TrustedKey {
        let path: String
        let id: String
    }
    private var current: (id: UInt64, manifest: AgentPackageManifest, trialMs: Int, fd: Int32, size: Int)?

    /// A verified package, ready for the trial.
    struct Ready {
        let id: UInt64
        let manifest: AgentPackageManifest
        let path: String
        let trialTimeoutMs: Int
    }

    enum Outcome {
        case reply(AgentMessage)
        case install(Ready)
    }

    init(stagingDirectory: String, trustedKeys: [TrustedKey], verifier: String) {
        self.stagingDirectory = stagingDirectory
        self.trustedKeys = trustedKeys
        self.verifier = verifier
    }

    func offer(_ o: AgentMessage.UpgradeOffer) -> AgentMessage {
        abandon()
        let m = o.manifest
        func refuse(_ why: String) -> AgentMessage {
            log("upgrade to \(m.version.clippedForLog) refused: \(why)")
            return .upgradeStatus(.init(id: o.id, state: .refused, reason: why))
        }
        guard m.name == "vigil-agent" else { return refuse("the package is \(m.name.clippedForLog), not vigil-agent") }
        guard m.arch == AgentBuild.arch else { return refuse(PackageError.wrongArch(package: m.arch, machine: AgentBuild.arch).description) }
        guard let offered = AgentVersion(m.version), let mine = AgentVersion(AgentBuild.version) else {
            return refuse("unreadable version \(m.version.clippedForLog)")
        }
        guard mine < offered else { return refuse(PackageError.notNewer(package: m.version, installed: AgentBuild.version).description) }
        guard !trustedKeys.isEmpty else { return refuse("no trusted signing key installed (see vigil-agent --trust-key)") }
        guard trustedKeys.contains(where: { $0.id == m.keyID }) else {
            return refuse(PackageError.untrustedKey(m.keyID).description)
        }
        guard access(verifier, X_OK) == 0 else {
            return refuse("no package verifier at \(verifier) (install vigil-agent-verify next to vigil-agent, or pass --verifier)")
        }
        guard (1...Self.maxBytes).contains(m.size), m.sha256.count == 64, m.sha256.allSatisfy(\.isHexDigit) else {
            return refuse("implausible size or hash in the manifest")
        }
        mkdir(stagingDirectory, 0o700)
        removeStaged(except: m.sha256)
        let path = partPath(m.sha256)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return refuse("cannot stage in \(stagingDirectory): errno \(errno)") }
        var st = stat()
        fstat(fd, &st)
        var have = Int(st.st_size)
        if have > m.size { ftruncate(fd, 0); have = 0 }
        lseek(fd, off_t(have), SEEK_SET)
        current = (o.id, m, min(max(o.trialTimeoutMs, 2_000), 300_000), fd, have)
        if have > 0 { log("resuming the upgrade to \(m.version) at byte \(have)") }
        return .upgradeStatus(.init(id: o.id, state: .accepted, offset: have))
    }

    func chunk(_ c: AgentMessage.UpgradeChunk) -> Outcome {
        guard var cur = current, cur.id == c.id else {
            return .reply(.upgradeStatus(.init(id: c.id, state: .refused, reason: "no upgrade in progress with this id")))
        }
        guard c.offset == cur.size, let data = Base64.decode(c.data), data.count <= AgentProtocol.upgradeChunkBytes,
              cur.size + data.count <= cur.manifest.size else {
            // Out of order or malformed: tell the host where we are.
            return .reply(.upgradeStatus(.init(id: c.id, state: .receiving, offset: cur.size)))
        }
        guard writeAll(cur.fd, data) else {
            let why = "cannot write the staged binary: errno \(errno)"
            abandon(delete: true)
            return .reply(.upgradeStatus(.init(id: c.id, state: .refused, reason: why)))
        }
        cur.size += data.count
        current = cur
        guard cur.size == cur.manifest.size else {
            return .reply(.upgradeStatus(.init(id: c.id, state: .receiving, offset: cur.size)))
        }
        return finish(cur.id, cur.manifest, cur.trialMs)
    }

    private func finish(_ id: UInt64, _ m: AgentPackageManifest, _ trialMs: Int) -> Outcome {
        let path = partPath(m.sha256)
        abandon()
        if let failure = PackageVerifier.check(path, manifest: m, keyFiles: trustedKeys.map(\.path), verifier: verifier) {
            unlink(path)
            log("upgrade to \(m.version.clippedForLog) refused: \(failure)")
            return .reply(.upgradeStatus(.init(id: id, state: .refused, offset: 0, reason: failure)))
        }
        return .install(Ready(id: id, manifest: m, path: path, trialTimeoutMs: trialMs))
    }

    /// Stops receiving (the host went away); the staged part stays for a resume.
    func abandon(delete: Bool = false) {
        if let cur = current {
            close(cur.fd)
            if delete { unlink(partPath(cur.manifest.sha256)) }
        }
        current = nil
    }

    private func partPath(_ sha: String) -> String { "\(stagingDirectory)/vigil-agent-\(sha).part" }

    private func removeStaged(except sha: String) {
        for name in SysFiles.entries(stagingDirectory)
        where name.hasPrefix("vigil-agent-") && name.hasSuffix(".part") && !name.contains(sha) {
            unlink("\(stagingDirectory)/\(name)")
        }
    }
}

extension String {
    var clippedForLog: String { String(unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.prefix(64).map(Character.init)) }
}

/// Writes all of `bytes`: a signal (SIGIO from the port, SIGCHLD from the
/// verifier) can interrupt a write or cut it short, which is no failure.
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { buf -> Int in
            guard let base = buf.baseAddress else { return -1 }
            return Glibc.write(fd, base + done, buf.count - done)
        }
        if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { return false }
    }
    return true
}
