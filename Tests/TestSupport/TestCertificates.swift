import Foundation

/// A CA, a server certificate for 127.0.0.1/localhost and client
/// certificates, made with openssl at test time (no key is committed).
public struct TestCertificates: Sendable {
    public let directory: String
    public var caCert: String { directory + "/ca.crt" }
    public var serverCert: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCert: String { directory + "/client.crt" }
    public var clientKey: String { directory + "/client.key" }
    /// Signed by a CA vigild does not trust.
    public var rogueCert: String { directory + "/rogue.crt" }
    public var rogueKey: String { directory + "/rogue.key" }

    public init(in directory: String, serverIP: String = "127.0.0.1") throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ext = directory + "/server.ext"
        try "subjectAltName=IP:\(serverIP),DNS:localhost\n".write(toFile: ext, atomically: true, encoding: .utf8)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func openssl(_ args: [String]) throws {
            let r = try ProcessRunner.run(["openssl"] + args, timeout: 60)
            guard r.status == 0 else { throw TestbedError("openssl \(args.joined(separator: " ")): \(r.stderr)") }
        }
        for ca in ["ca", "rogue-ca"] {
            try openssl(["req", "-x509"] + key + ["-keyout", "\(directory)/\(ca).key", "-out", "\(directory)/\(ca).crt",
                         "-subj", "/CN=vigil test \(ca)", "-days", "2"])
        }
        for (name, ca, ext) in [("server", "ca", ext as String?), ("client", "ca", nil), ("rogue", "rogue-ca", nil)] {
            try openssl(["req"] + key + ["-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr",
                         "-subj", "/CN=\(name == "server" ? "localhost" : name)"])
            try openssl(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", "\(directory)/\(ca).crt",
                         "-CAkey", "\(directory)/\(ca).key", "-CAcreateserial", "-out", "\(directory)/\(name).crt", "-days", "2"]
                        + (ext.map { ["-extfile", $0] } ?? []))
        }
    }
}
