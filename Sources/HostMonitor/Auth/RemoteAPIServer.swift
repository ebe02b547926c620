import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The API over TCP (`api-address`): TLS only (swift-nio-ssl), plain HTTP
/// answered with a refusal, every request through `AuthMiddleware`.
struct RemoteAPIServer: Service {
    let address: ListenAddress
    let app: any Service
    let logger: Logger

    /// Loads the certificate and key now, so a bad file stops vigild at start.
    init(config: RemoteAPIConfig, router: Router<BasicRequestContext>, logger: Logger) throws {
        address = config.address
        self.logger = logger
        let context = try Self.context(config)
        let server = HTTPServerBuilder { responder in
            GuardedTLSChannel(base: HTTP1Channel(responder: responder,
                                                 configuration: .init(additionalChannelHandlers: [ClientCertificateHeader()])),
                              sslContext: context, refusalLogger: logger)
        }
        app = Application(router: router, server: server,
                          configuration: .init(address: .hostname(config.address.host, port: config.address.port),
                                               serverName: "vigild"),
                          logger: logger)
    }

    static func context(_ config: RemoteAPIConfig) throws -> NIOSSLContext {
        func load<T>(_ what: String, _ path: String, _ body: () throws -> T) throws -> T {
            do { return try body() } catch {
                throw RemoteAPIError("cannot load \(what) \(path): \(error)",
                                     hint: "give a PEM file vigild may read (see docs/operations.md for making one with openssl)")
            }
        }
        let chain = try load("tls-cert", config.certificatePath) { try NIOSSLCertificate.fromPEMFile(config.certificatePath) }
        let key = try load("tls-key", config.privateKeyPath) { try NIOSSLPrivateKey(file: config.privateKeyPath, format: .pem) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if let ca = config.clientCAPath {
            let roots = try load("tls-client-ca", ca) { try NIOSSLCertificate.fromPEMFile(ca) }
            tls.trustRoots = .certificates(roots)
            tls.certificateVerification = .optionalVerification
        }
        return try load("the TLS settings from", config.certificatePath) { try NIOSSLContext(configuration: tls) }
    }

    func run() async throws {
        logger.info("remote API at https://\(address)")
        try await app.run()
    }
}

struct RemoteAPIError: Error, CustomStringConvertible {
    let message: String
    let hint: String
    init(_ message: String, hint: String) {
        self.message = message
        self.hint = hint
    }
    var description: String { "\(message)\nhint: \(hint)" }
}

/// TLS under an HTTP channel, with `PlainHTTPRefusal` in front of it.
struct GuardedTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let sslContext: NIOSSLContext
    let refusalLogger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(PlainHTTPRefusal(logger: refusalLogger))
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension GuardedTLSChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}
