import Crypto
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import NIOSSL

/// After HTTP decoding on the TLS listener: removes any
/// `X-Vigil-Client-Certificate` a client sent, and sets it to the SHA-256
/// of the client certificate when the TLS session verified one against
/// `tls-client-ca`, so `AuthMiddleware` can trust the header.
final class ClientCertificateHeader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let name = AuthHeader.clientCertificate
        head.headerFields[name] = nil
        // Only a certificate that passed verification is there: with
        // `optionalVerification` a bad one fails the handshake.
        if let ssl = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
           let certificate = ssl.peerCertificate, let der = try? certificate.toDERBytes() {
            head.headerFields[name] = "sha256:" + TokenService.hex(Array(SHA256.hash(data: der)))
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
