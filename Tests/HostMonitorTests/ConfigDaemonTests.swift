import Core
import Foundation
import HostMonitor
import Testing
import TestSupport

/// vigild started with a config file on libvirt's test driver: the file is
/// applied, the command line wins over it, SIGHUP reloads what can change
/// live and names what needs a restart, and a bad file is refused.
@Suite struct ConfigDaemonTests {
    func policy(_ daemon: DaemonProcess) throws -> PolicyDocument {
        let r = try daemon.vigil(["policy", "show", "test", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONDecoder().decode(PolicyDocument.self, from: Data(r.stdout.utf8))
    }

    @Test func theFileIsAppliedAndReloadedOnSIGHUP() async throws {
        let dir = try TemporaryDirectory("cf")
        defer { dir.remove() }
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir,
                                       extraArguments: ["--default-max-resets", "4"],
                                       configYAML: "default-on-crash: ignore\ndefault-misses: 7\ndefault-max-resets: 9\nlog-level: info\n")
        defer { daemon.stop() }
        let shown = try policy(daemon)
        #expect(shown.isHostDefault)
        #expect(shown.policy.onCrash == .ignore && shown.policy.misses == 7)
        #expect(shown.policy.maxResets == 4, "the command line overrides the file")
        #expect(daemon.log.contains(" info vigild"))

        try "default-on-crash: ignore\ndefault-misses: 8\ndefault-max-resets: 9\nlog-level: warning\n"
            .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        daemon.reload()
        let expected = "configuration reloaded: applied log-level; restart vigild to apply default-misses"
        try await daemon.waitUntil("the reload", timeout: 20) { try daemon.events().contains { $0.message == expected } }
        // The new level applies at once: the reload's own notice is below it.
        #expect(!daemon.log.contains("configuration reloaded"), "\(daemon.log)")
        #expect(try policy(daemon).policy.misses == 7, "the policy waits for a restart")

        // A file that no longer parses is refused; vigild keeps running.
        try "default-misses: [\n".write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        daemon.reload()
        try await daemon.waitUntil("the refused reload", timeout: 20) {
            try daemon.events().contains { $0.message.hasPrefix("configuration reload refused: \(daemon.configPath) line ") }
        }
        #expect(daemon.log.contains("configuration not reloaded, the running settings stay"))
        #expect(daemon.process.isRunning)
        #expect(try daemon.vigil(["host", "info"]).status == 0)
        #expect(daemon.stop() == 0)
    }

    @Test func aBadFileStopsVigildWithTheLineAndKey() throws {
        let dir = try TemporaryDirectory("cb")
        defer { dir.remove() }
        let path = dir.path + "/bad.yaml"
        try "connect: test:///default\ndefault-misess: 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try ProcessRunner.run([BuiltProducts.path("vigild"), "--config", path, "--socket", dir.path + "/s.sock",
                                       "--state-dir", dir.path + "/state"], timeout: 30)
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(path) line 2: key 'default-misess': unknown key"), "\(r.stderr)")
        #expect(r.stderr.contains("did you mean 'default-misses'?"))
        let missing = try ProcessRunner.run([BuiltProducts.path("vigild"), "--config", dir.path + "/none.yaml"], timeout: 30)
        #expect(missing.status == 2 && missing.stderr.contains("no such configuration file"), "\(missing.stderr)")
    }

    /// Every vigild option has its key in the file, and every key its option.
    @Test func everyOptionIsAConfigKey() throws {
        let help = try ProcessRunner.run([BuiltProducts.path("vigild"), "--help-hidden"], timeout: 30).stdout
        // An option is declared where a help line starts with it ("  -s, --socket <path>");
        // a mention inside another option's help text is not a declaration.
        // (continuation lines are indented further than the two spaces of a declaration).
        let declarations = help.split(separator: "\n").filter { $0.hasPrefix("  -") }
            .map { $0.prefix { $0 != "<" }.split(separator: " ").prefix(2) }
        let options = Set(declarations.flatMap { $0 }.map { $0.trimmingCharacters(in: [","]) }
            .filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2)) })
            .subtracting(["help", "help-hidden", "config", "version"])
        let keys = Set(ConfigKeys.all.map(\.name))
        #expect(options == keys, "options without a key: \(options.subtracting(keys)); keys without an option: \(keys.subtracting(options))")
    }
}
