import Foundation
import Testing
import TestSupport

/// schemathesis (installed by testbed/host-up) against a vigild on
/// libvirt's test driver, through the TLS listener with a client
/// certificate: no server error and no response that breaks
/// docs/openapi.yaml. Operations that make files where the request says
/// (disks, exports, imports, the agent repository) or reach other hosts
/// (migrate) are left out: the fuzzer runs as root on this machine.
@Suite struct SchemathesisTests {
    static let excluded = ["postVms", "postVmsByVmHardwareDisks", "postVmsByVmClone", "postVmsByVmMigrate",
                           "postTemplatesImport", "postTemplatesImportOva", "postTemplatesByNameExport",
                           "postTemplatesByNameDeploy", "postAgentRepo"]

    @Test(.timeLimit(.minutes(10))) func noServerErrorAndNoResponseOutsideTheSpec() throws {
        let which = try ProcessRunner.run(["/bin/sh", "-c", "command -v schemathesis"])
        guard which.status == 0 else { throw TestbedError("schemathesis is not installed: run testbed/host-up") }
        let dir = try TemporaryDirectory("sm")
        defer { dir.remove() }
        let host = "127.0.\(Int.random(in: 100...250)).\(Int.random(in: 2...250))"
        let certs = try TestCertificates(in: dir.path + "/tls", serverIP: host)
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir, configYAML: """
            api-address: \(host):8443
            tls-cert: \(certs.serverCert)
            tls-key: \(certs.serverKey)
            tls-client-ca: \(certs.caCert)
            """)
        // Long polls (wait ≤ 60 s) may still run when the fuzzer is done.
        defer { daemon.kill() }
        let arguments = ["schemathesis", "run", BuiltProducts.repositoryRoot + "/docs/openapi.yaml",
                         "--url", "https://\(host):8443", "--tls-verify", certs.caCert,
                         // A client certificate, not a token: the fuzzer revokes the tokens it finds.
                         "--request-cert", certs.clientCert, "--request-cert-key", certs.clientKey,
                         "--generation-with-security-parameters", "false",
                         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                         "--max-examples", "40", "--max-time", "120", "--request-timeout", "65", "--workers", "1",
                         "--generation-database", "none", "--no-color"]
            + Self.excluded.flatMap { ["--exclude-operation-id", $0] }
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        let run = try ProcessRunner.run(["/bin/sh", "-c", "cd '\(dir.path)' && \(quoted)"], timeout: 540)
        let report = run.stdout + run.stderr
        #expect(run.status == 0, "schemathesis found problems:\n\(report.suffix(12_000))\nvigild log:\n\(daemon.log.suffix(3000))")
        #expect(report.contains("API Operations:") && !report.contains("FAILURES") && !report.contains("ERRORS"), "\(report.suffix(6000))")
        #expect(daemon.process.isRunning, "vigild died under the fuzzer:\n\(daemon.log.suffix(3000))")
    }
}
