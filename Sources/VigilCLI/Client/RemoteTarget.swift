import FoundationEssentials
import NIOSSL

/// vigild's TCP listener: `--url https://HOST:PORT`, the bearer token from
/// `--token-file`, the CA that signed vigild's certificate (`--ca-file`;
/// default: the system's), or a client certificate instead of a token.
struct RemoteTarget {
    let url: String
    let host: String
    let port: Int
    let token: String?
    let caFile: String?
    let clientCertificate: (cert: String, key: String)?

    init(url: String, tokenFile: String?, caFile: String?, clientCert: String?, clientKey: String?) throws {
        guard url.hasPrefix("https://") else {
            throw CLIError("--url must start with https:// (vigild's TCP API speaks TLS only), got '\(url)'",
                           hint: "e.g. --url https://host1:8443")
        }
        var rest = url.dropFirst("https://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(port) else {
            throw CLIError("--url needs a port, e.g. https://host1:8443, got '\(url)'", hint: nil)
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.url = url
        self.host = host
        self.port = port
        self.caFile = caFile
        switch (clientCert, clientKey) {
        case (let c?, let k?): clientCertificate = (c, k)
        case (nil, nil): clientCertificate = nil
        default: throw CLIError("--client-cert and --client-key go together", hint: nil)
        }
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw CLIError("cannot read the token file \(tokenFile)", hint: "check the path and that you may read it")
            }
            let text = String(String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace })
            guard !text.isEmpty else { throw CLIError("the token file \(tokenFile) is empty", hint: "put the token 'vigil token create' printed in it") }
            token = text
        } else {
            token = nil
        }
        if token == nil && clientCertificate == nil {
            throw CLIError("--url needs --token-file (or --client-cert and --client-key)",
                           hint: "make a token on the host: vigil token create NAME --role read > FILE")
        }
    }

    var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// SNI and the name checked in vigild's certificate; none for an IP address.
    var serverHostname: String? {
        host.contains(":") || host.split(separator: ".").allSatisfy({ Int($0) != nil }) ? nil : host
    }

    func sslContext() throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        do {
            if let caFile { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
            if let (cert, key) = clientCertificate {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw CLIError("cannot set up TLS: \(error)", hint: "--ca-file, --client-cert and --client-key take PEM files")
        }
    }
}
