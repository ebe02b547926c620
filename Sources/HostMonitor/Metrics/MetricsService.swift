import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Serves `GET /metrics` (Prometheus text format 0.0.4) on its own TCP
/// listener (`metrics-address`), apart from the API: no token, read-only.
struct MetricsService: Service {
    let address: ListenAddress
    let collector: MetricsCollector
    let logger: Logger

    func run() async throws {
        let router = Router()
        let collector = self.collector, logger = self.logger
        router.get("/metrics") { _, _ -> Response in
            do {
                let body = try await collector.scrape()
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(bytes: body)))
            } catch {
                logger.error("metrics scrape failed: \(error)")
                return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: "vigild cannot read its metrics now: \(error)\n")))
            }
        }
        let app = Application(router: router,
                              configuration: .init(address: .hostname(address.host, port: address.port),
                                                   serverName: "vigild-metrics"),
                              logger: logger)
        logger.info("metrics at http://\(address)/metrics")
        try await app.run()
    }
}
