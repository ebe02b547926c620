import Core
import Foundation
import Testing
import TestSupport

/// Where testbed/test left the packages it built (nil: not built for this run).
enum BuiltPackages {
    static let directory = ProcessInfo.processInfo.environment["VIGIL_PACKAGES"]
}

/// The Debian packages as `testbed/test` (and so CI) builds, checks and
/// installs them before the tests: it sets VIGIL_PACKAGES to their directory.
/// The installed vigil-host is run the way its systemd unit runs it.
@Suite(.serialized, .enabled(if: BuiltPackages.directory != nil,
                             "VIGIL_PACKAGES is not set: testbed/test builds and installs the packages, then sets it"))
struct PackagingTests {

    /// The unit's ExecStart, without the `$VIGILD_OPTS` systemd expands from /etc/default/vigild.
    static func execStart(_ unit: String) throws -> [String] {
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        return line.dropFirst("ExecStart=".count).split(separator: " ").map(String.init).filter { !$0.hasPrefix("$") }
    }

    @Test func installedVigilHostRunsAsItsUnitStartsIt() async throws {
        let status = try ProcessRunner.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "vigil-host"])
        #expect(status.stdout == "install ok installed \(VigilVersion.current)", "\(status.stdout) \(status.stderr)")
        for file in ["/usr/share/man/man1/vigil.1.gz", "/usr/share/man/man8/vigild.8.gz", "/etc/vigil/vigild.yaml",
                     "/usr/share/bash-completion/completions/vigil", "/usr/share/doc/vigil-host/copyright"] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file) is not installed")
        }
        let command = try Self.execStart(try String(contentsOfFile: "/lib/systemd/system/vigild.service", encoding: .utf8))
        #expect(command == ["/usr/sbin/vigild", "--config", "/etc/vigil/vigild.yaml"])
        // As VIGILD_OPTS would: the test driver, and a socket and state of the test's own
        // (the packaged defaults, /run/vigil and /var/lib/vigil, may belong to a running vigild).
        let dir = try TemporaryDirectory("pkg")
        defer { dir.remove() }
        let socket = dir.path + "/api.sock"
        let vigild = try ChildProcess(command + ["--connect", "test:///default", "--socket", socket, "--state-dir", dir.path + "/state"],
                                      logPath: dir.path + "/vigild.log")
        defer { _ = vigild.stop(SIGTERM) }
        var info: CommandResult?
        for _ in 0..<100 {
            info = try ProcessRunner.run(["/usr/bin/vigil", "--socket", socket, "host", "info"])
            if info?.status == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(info?.status == 0 && info?.stdout.contains("test:///default") == true,
                "the packaged vigil could not reach the packaged vigild: \(info?.stderr ?? "")\n\((try? String(contentsOfFile: dir.path + "/vigild.log", encoding: .utf8)) ?? "")")
        #expect(vigild.stop(SIGTERM) == 0, "vigild stops cleanly on SIGTERM (the unit's KillSignal)")
    }

    @Test func vigilAgentPackageHoldsStaticBinariesForAnyGuest() throws {
        let dir = try #require(BuiltPackages.directory)
        let deb = try #require(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("vigil-agent_") && $0.hasSuffix(".deb") })
        let root = try TemporaryDirectory("pkga")
        defer { root.remove() }
        #expect(try ProcessRunner.run(["dpkg-deb", "-x", dir + "/" + deb, root.path]).status == 0)
        for binary in ["vigil-agent", "vigil-agent-verify"] {
            let path = root.path + "/usr/bin/" + binary
            let dynamic = try ProcessRunner.run(["readelf", "-d", path])
            #expect(dynamic.status == 0, "\(binary): \(dynamic.stderr)")
            #expect(!dynamic.stdout.contains("(NEEDED)"), "\(binary) needs shared libraries: \(dynamic.stdout)")
        }
        #expect(FileManager.default.fileExists(atPath: root.path + "/lib/udev/rules.d/99-vigil-agent.rules"))
        #expect(FileManager.default.fileExists(atPath: root.path + "/lib/systemd/system/vigil-agent.service"))
    }
}
