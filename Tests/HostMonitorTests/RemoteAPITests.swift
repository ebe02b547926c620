import Core
import Foundation
import Testing
import TestSupport

/// vigild's TCP API: TLS with certificates made by openssl here, bearer
/// tokens made with `vigil token`, and every kind of refusal answered with
/// a clear error and logged.
@Suite struct RemoteAPITests {
    struct Rig {
        let dir: TemporaryDirectory
        let daemon: DaemonProcess
        let certs: TestCertificates
        let address: String
        var url: String { "https://\(address)" }

        /// `vigil --url` with a token file (or none) and the test CA.
        func remote(_ tokenFile: String?, _ args: [String], extra: [String] = []) throws -> CommandResult {
            try ProcessRunner.run([BuiltProducts.path("vigil"), "--url", url, "--ca-file", certs.caCert]
                                  + (tokenFile.map { ["--token-file", $0] } ?? []) + extra + args, timeout: 60)
        }

        func curl(_ args: [String]) throws -> CommandResult {
            try ProcessRunner.run(["curl", "-sS", "--max-time", "10", "--cacert", certs.caCert] + args, timeout: 20)
        }

        /// Makes a token over the unix socket and saves it to a file.
        func token(_ name: String, role: String, expires: String? = nil) throws -> String {
            let r = try daemon.vigil(["token", "create", name, "--role", role] + (expires.map { ["--expires", $0] } ?? []))
            #expect(r.status == 0, "\(r.stderr)")
            let path = dir.path + "/\(name).token"
            try r.stdout.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    static func rig() throws -> Rig {
        let dir = try TemporaryDirectory("ra")
        let host = "127.0.\(Int.random(in: 100...250)).\(Int.random(in: 2...250))"
        let certs = try TestCertificates(in: dir.path + "/tls", serverIP: host)
        let address = "\(host):8443"
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir, configYAML: """
            api-address: \(address)
            tls-cert: \(certs.serverCert)
            tls-key: \(certs.serverKey)
            tls-client-ca: \(certs.caCert)
            """)
        return Rig(dir: dir, daemon: daemon, certs: certs, address: address)
    }

    @Test func tokensRolesAndRefusals() async throws {
        let rig = try Self.rig()
        defer { rig.dir.remove() }
        defer { rig.daemon.stop() }
        let reader = try rig.token("reader", role: "read"), admin = try rig.token("ops", role: "admin")
        let list = try rig.daemon.vigil(["token", "list"])
        #expect(list.stdout.contains("reader") && list.stdout.contains("ops") && !list.stdout.contains("vigil_"), "\(list.stdout)")
        // Only hashes are stored.
        let secret = try String(contentsOfFile: reader, encoding: .utf8).filter { !$0.isWhitespace }
        #expect(secret.hasPrefix("vigil_") && secret.count == 70)
        let db = try Data(contentsOf: URL(fileURLWithPath: rig.daemon.stateDirectory + "/vigild.sqlite"))
        #expect(db.range(of: Data(secret.utf8)) == nil)

        // A read token reads...
        let vms = try rig.remote(reader, ["vm", "list", "--json"])
        #expect(vms.status == 0 && vms.stdout.contains("\"test\""), "\(vms.stderr)")
        // ...and may not change anything.
        let write = try rig.remote(reader, ["vm", "settings", "test", "--display-name", "T"])
        #expect(write.status != 0)
        #expect(write.stderr.contains("reader has role read; PUT /v1/vms/test/settings needs admin"), "\(write.stderr)")
        #expect(try rig.remote(reader, ["token", "list"]).stderr.contains("needs admin"))
        // An admin token may.
        let set = try rig.remote(admin, ["vm", "settings", "test", "--display-name", "T"])
        #expect(set.status == 0, "\(set.stderr)")

        // No credentials at all; a forged certificate header changes nothing.
        let none = try rig.curl(["-w", "\n%{http_code}", "\(rig.url)/v1/vms"])
        #expect(none.stdout.hasSuffix("401") && none.stdout.contains("needs a token or a client certificate"), "\(none.stdout)")
        let forged = try rig.curl(["-w", "\n%{http_code}", "-H", "X-Vigil-Client-Certificate: sha256:00", "\(rig.url)/v1/vms"])
        #expect(forged.stdout.hasSuffix("401"), "\(forged.stdout)")
        let garbage = try rig.curl(["-w", "\n%{http_code}", "-H", "Authorization: Bearer vigil_nope", "\(rig.url)/v1/vms"])
        #expect(garbage.stdout.hasSuffix("401") && garbage.stdout.contains("unknown or revoked token"), "\(garbage.stdout)")
        let noToken = try rig.remote(nil, ["vm", "list"])
        #expect(noToken.status != 0 && noToken.stderr.contains("--url needs --token-file"), "\(noToken.stderr)")

        // Expired.
        let soon = try rig.token("soon", role: "admin", expires: "1s")
        try await Task.sleep(for: .milliseconds(1500))
        let expired = try rig.remote(soon, ["vm", "list"])
        #expect(expired.status != 0 && expired.stderr.contains("token 'soon' expired at"), "\(expired.stderr)")

        // Revoked.
        #expect(try rig.daemon.vigil(["token", "revoke", "reader"]).status == 0)
        let revoked = try rig.remote(reader, ["vm", "list"])
        #expect(revoked.status != 0 && revoked.stderr.contains("unknown or revoked token"), "\(revoked.stderr)")

        // Plain HTTP to the TLS port.
        let plain = try ProcessRunner.run(["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", "http://\(rig.address)/v1/vms"])
        #expect(plain.stdout.hasSuffix("400") && plain.stdout.contains("this port speaks HTTPS (TLS) only"), "\(plain.stdout) \(plain.stderr)")

        // Each refusal is in vigild's log.
        let log = rig.daemon.log
        for reason in ["needs admin", "needs a token or a client certificate", "unknown or revoked token",
                       "token 'soon' expired at", "plain HTTP on the TLS port"] {
            #expect(log.contains("remote API request refused") && log.contains(reason), "no '\(reason)' in the log:\n\(log)")
        }
        // The unix socket stays root-only and needs no token.
        let attributes = try FileManager.default.attributesOfItem(atPath: rig.daemon.socketPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        #expect((attributes[.ownerAccountID] as? Int) == 0)
        #expect(try rig.daemon.vigil(["vm", "list"]).status == 0)
    }

    @Test func clientCertificatesInsteadOfTokens() throws {
        let rig = try Self.rig()
        defer { rig.dir.remove() }
        defer { rig.daemon.stop() }
        let viaCLI = try rig.remote(nil, ["vm", "settings", "test", "--display-name", "C"],
                                    extra: ["--client-cert", rig.certs.clientCert, "--client-key", rig.certs.clientKey])
        #expect(viaCLI.status == 0, "\(viaCLI.stderr)")
        let viaCurl = try rig.curl(["-w", "\n%{http_code}", "--cert", rig.certs.clientCert, "--key", rig.certs.clientKey,
                                    "\(rig.url)/v1/host"])
        #expect(viaCurl.stdout.hasSuffix("200"), "\(viaCurl.stdout)")
        // A certificate from a CA vigild does not trust fails the handshake.
        let rogue = try rig.curl(["--cert", rig.certs.rogueCert, "--key", rig.certs.rogueKey, "\(rig.url)/v1/host"])
        #expect(rogue.status != 0, "\(rogue.stdout)")
        // And without the test CA the client does not trust vigild.
        let untrusted = try ProcessRunner.run([BuiltProducts.path("vigil"), "--url", rig.url, "--client-cert", rig.certs.clientCert,
                                               "--client-key", rig.certs.clientKey, "vm", "list"])
        #expect(untrusted.status != 0 && untrusted.stderr.contains("--ca-file"), "\(untrusted.stderr)")
    }
}
