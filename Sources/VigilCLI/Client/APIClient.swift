import ArgumentParser
import Core
import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A small HTTP/1.1 client for vigild's API: the unix socket, or the TCP
/// listener over TLS with a bearer token (`--url`).
struct APIClient {
    enum Target {
        case socket(String)
        case remote(RemoteTarget)
    }

    let target: Target

    init(socketPath: String) { target = .socket(socketPath) }
    init(remote: RemoteTarget) { target = .remote(remote) }

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
        let channel = try await connect()
        do {
            return try await exchange(channel, method: method, path: path, body: body)
        } catch let error as CLIError {
            throw error
        } catch {
            guard case .remote(let r) = target else { throw error }
            throw CLIError("TLS with vigild at \(r.url) failed: \(error)",
                           hint: "pass --ca-file with the CA that signed vigild's certificate (tls-cert), and check the host name in it")
        }
    }

    private func exchange(_ channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>, method: HTTPMethod,
                          path: String, body: [UInt8]?) async throws -> Response {
        try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: host)
            if case .remote(let r) = target, let token = r.token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
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

extension APIClient {
    var host: String {
        switch target {
        case .socket: "vigild"
        case .remote(let r): r.hostHeader
        }
    }

    func connect() async throws -> NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart> {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        switch target {
        case .socket(let socketPath):
            guard FileManager.default.fileExists(atPath: socketPath) else {
                throw CLIError("vigild is not running: no API socket at \(socketPath)",
                               hint: "start vigild, or pass --socket with the path vigild was started with")
            }
            do {
                return try await bootstrap.connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
                    }
                }
            } catch {
                throw CLIError("cannot connect to vigild at \(socketPath): \(error)",
                               hint: "check that vigild is running (a stale socket file remains after a crash) and that you may access the socket")
            }
        case .remote(let r):
            let context = try r.sslContext()
            do {
                return try await bootstrap.connect(host: r.host, port: r.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let tls = try NIOSSLClientHandler(context: context, serverHostname: r.serverHostname)
                        try channel.pipeline.syncOperations.addHandler(tls)
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
                    }
                }
            } catch {
                throw CLIError("cannot connect to vigild at \(r.url): \(error)",
                               hint: "check the address, that vigild runs with --api-address there, and --ca-file for its certificate")
            }
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
