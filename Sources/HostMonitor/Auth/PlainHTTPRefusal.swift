import Logging
import NIOCore

/// First handler of a TLS connection: when the client speaks plain HTTP
/// (its first byte is a capital letter, as in `GET`, not a TLS record),
/// answers `400` in plain HTTP with what to do, logs it and closes, instead
/// of a TLS alert the client would show as garbage. Otherwise it steps aside.
final class PlainHTTPRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    static let body = #"{"error":"this port speaks HTTPS (TLS) only; plain HTTP is refused","hint":"use https://HOST:PORT (vigil --url https://HOST:PORT --token-file FILE)"}"#

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        logger.warning("remote API request refused: plain HTTP on the TLS port",
                       metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
        let reply = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: \(Self.body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + Self.body
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: reply)), promise: nil)
        context.close(promise: nil)
    }
}
