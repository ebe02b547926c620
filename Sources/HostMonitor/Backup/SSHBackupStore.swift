import Foundation
import Subprocess

/// A backup repository on a server reached with OpenSSH's client (key only,
/// `BatchMode`: never a password prompt; keep-alives, so a dropped link
/// fails the call within seconds instead of hanging it). Files move with
/// scp (SFTP underneath: paths are not shell-interpreted; `-l` is the
/// bandwidth cap); the rest is one small POSIX shell command per call.
/// OpenSSH rather than an SSH library: it is what the admin already
/// configured and trusts (keys, known_hosts, ciphers), and Swift has no
/// well-kept SFTP client.
struct SSHBackupStore: BackupStore {
    let user: String?
    let host: String
    let port: Int?
    let root: String
    let settings: SSHSettings

    var destination: BackupDestination { .ssh(user: user, host: host, port: port, path: root) }
    var localRoot: String? { nil }

    private var login: String { (user.map { $0 + "@" } ?? "") + host }

    private var options: [String] {
        var o = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=3", "-o", "ServerAliveCountMax=3",
                 "-o", "StrictHostKeyChecking=yes"]
        if let id = settings.identity { o += ["-i", id, "-o", "IdentitiesOnly=yes"] }
        if let known = settings.knownHosts { o += ["-o", "UserKnownHostsFile=\(known)"] }
        return o
    }

    /// `'…'` for the remote shell.
    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs `script` on the server; returns its standard output.
    @discardableResult
    private func shell(_ script: String, input: [UInt8] = [], what: String) async throws -> Data {
        var args = options
        if let port { args += ["-p", "\(port)"] }
        args += [login, "--", script]
        let result = try await run(.path("/usr/bin/ssh"), arguments: Arguments(args), input: .array(input),
                                   output: .bytes(limit: 64 << 20), error: .string(limit: 65_536))
        guard result.terminationStatus.isSuccess else { throw failure(what, result.standardError, result.terminationStatus) }
        return Data(result.standardOutput)
    }

    private func failure(_ what: String, _ stderr: String?, _ status: TerminationStatus) -> BackupStoreError {
        let message = (stderr ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return BackupStoreError(description: "cannot \(what) on \(destination): \(message.isEmpty ? "\(status)" : message)"
                                + " (check that the server answers and accepts vigild's key: --backup-ssh-identity)")
    }

    func manifests() async throws -> [(path: String, data: Data)] {
        // NUL-separated path and contents pairs: one round trip for the whole repository.
        let script = "for f in \(Self.quoted(root))/*/*/manifest.json; do [ -f \"$f\" ] || continue; "
            + "case \"$f\" in */.*) continue;; esac; printf '%s\\0' \"$f\"; cat \"$f\"; printf '\\0'; done"
        let out = try await shell(script, what: "list the backups")
        let fields = out.split(separator: 0, omittingEmptySubsequences: false)
        var found: [(String, Data)] = []
        var i = 0
        while i + 1 < fields.count {
            found.append((String(decoding: fields[i], as: UTF8.self), Data(fields[i + 1])))
            i += 2
        }
        return found
    }

    func list(_ dir: String) async throws -> [String] {
        let out = try await shell("[ -d \(Self.quoted(dir)) ] && ls -1A \(Self.quoted(dir)) || true", what: "list \(dir)")
        return String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func makeDirectory(_ path: String) async throws {
        try await shell("mkdir -p \(Self.quoted(path))", what: "create \(path)")
    }

    func write(_ data: Data, to path: String) async throws {
        let q = Self.quoted(path), t = Self.quoted(path + ".tmp")
        // Renamed into place only once written whole and flushed (a full disk must not leave a truncated file).
        try await shell("cat > \(t) && { sync \(t) 2>/dev/null || sync; } && mv \(t) \(q)", input: Array(data), what: "write \(path)")
    }

    func rename(_ from: String, to: String) async throws {
        try await shell("[ ! -e \(Self.quoted(to)) ] && mv \(Self.quoted(from)) \(Self.quoted(to)) && sync", what: "rename \(from)")
    }

    func remove(_ path: String) async throws {
        try await shell("rm -rf -- \(Self.quoted(path))", what: "remove \(path)")
    }

    private func scp(_ args: [String], what: String) async throws {
        var a = ["-q", "-B"] + options
        if let port { a += ["-P", "\(port)"] }
        let result = try await run(.path("/usr/bin/scp"), arguments: Arguments(a + args), input: .none,
                                   output: .discarded, error: .string(limit: 65_536))
        guard result.terminationStatus.isSuccess else { throw failure(what, result.standardError, result.terminationStatus) }
    }

    func upload(_ local: String, to path: String, rateLimitMiBs: Int?) async throws {
        var args: [String] = []
        // scp's -l is in Kbit/s.
        if let limit = rateLimitMiBs, limit > 0 { args += ["-l", "\(limit * 8 * 1024)"] }
        try await scp(args + [local, "\(login):\(path)"], what: "upload \(path)")
        try await shell("sync \(Self.quoted(path)) 2>/dev/null || sync", what: "flush \(path)")
    }

    func download(_ path: String, to local: String) async throws {
        try await scp(["\(login):\(path)", local], what: "download \(path)")
    }

    func chunkHashes(_ path: String, chunk: Int) async throws -> (hashes: [String], bytes: Int64) {
        var args = options
        if let port { args += ["-p", "\(port)"] }
        args += [login, "--", "cat \(Self.quoted(path))"]
        let result = try await run(.path("/usr/bin/ssh"), arguments: Arguments(args), input: .none, output: .sequence,
                                   error: .string(limit: 65_536)) { execution in
            var hasher = ChunkHasher(chunk: chunk)
            for try await piece in execution.standardOutput {
                piece.withUnsafeBytes { hasher.feed($0) }
            }
            return hasher.finish()
        }
        guard result.terminationStatus.isSuccess else { throw failure("read \(path)", result.standardError, result.terminationStatus) }
        return result.closureResult
    }

    func freeBytes(_ path: String) async throws -> Int64? {
        let out = try await shell("df -Pk \(Self.quoted(path)) | tail -n 1", what: "check free space")
        let fields = String(decoding: out, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        return fields.count >= 4 ? Int64(fields[3]).map { $0 * 1024 } : nil
    }
}
