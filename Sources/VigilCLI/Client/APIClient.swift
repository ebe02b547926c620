import ArgumentParser
import Core
import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for vigild's unix-socket API.
struct APIClient {
    let socketPath: String

    struct Response {
        let status: Int
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try JSONDecoder().decode(type, from: Data(body))
            } catch {
                throw CLIError("vigild sent a reply this vigil cannot read (\(error))",
                               hint: "check that vigil and vigild are the same version")
            }
        }
    }

    func get(_ path: String) async throws -> Response {
        try await send(method: .GET, path: path, body: nil)
    }

    func send(method: HTTPMethod, path: String, body: [UInt8]?) async throws -> Response {
        guard FileManager.default.fileExists(atPath: socketPath) else {
            throw CLIError("vigild is not running: no API socket at \(socketPath)",
                           hint: "start vigild, or pass --socket with the path vigild was started with")
        }
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw CLIError("cannot connect to vigild at \(socketPath): \(error)",
                           hint: "check that vigild is running (a stale socket file remains after a crash) and that you may access the socket")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: "vigild")
            head.headers.add(name: "Connection", value: "close")
            if let body {
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: "\(body.count)")
            }
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            do {
                // One flush: vigild may answer (and close) as soon as it has the head.
                try await outbound.write(contentsOf: parts)
            } catch {
                // Its answer may already be waiting: read it before giving up.
            }
            var status = 0
            var collected: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let h): status = Int(h.status.code)
                case .body(let b): collected += b.readableBytesView
                case .end:
                    let response = Response(status: status, body: collected)
                    guard (200..<300).contains(status) else { throw CLIError(apiError: response) }
                    return response
                }
            }
            throw CLIError("vigild closed the connection before answering", hint: "see vigild's log")
        }
    }
}

/// An error for the user: what went wrong and what to do.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let hint: String?

    init(_ message: String, hint: String?) {
        self.message = message
        self.hint = hint
    }

    init(apiError response: APIClient.Response) {
        if let body = try? JSONDecoder().decode(APIErrorBody.self, from: Data(response.body)) {
            self.init(body.error, hint: body.hint)
        } else {
            self.init("vigild answered HTTP \(response.status): \(response.text)", hint: nil)
        }
    }

    var description: String { hint.map { "\(message)\nhint: \($0)" } ?? message }
}
