import Hummingbird
import Prometheus

/// API request latencies (`vigil_api_request_duration_seconds`), by
/// method, route pattern and status; kept for the life of vigild.
final class APIMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    static let buckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                                      .milliseconds(250), .seconds(1), .seconds(5), .seconds(30), .seconds(60)]
    private var descriptor: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "vigil", metricName: "api_request_duration", unitName: "seconds",
        helpText: "Time vigild took to answer an API request, by method, route pattern and status.") }

    func record(method: String, route: String, status: Int, duration: Duration) {
        registry.makeDurationHistogram(descriptor: descriptor,
                                       labels: [("method", method), ("route", route), ("status", "\(status)")],
                                       buckets: Self.buckets).record(duration)
    }
}

/// Times every API request into `APIMetrics`. The route is the pattern that
/// matched (`/v1/vms/{vm}`), never the raw path, so series stay few.
struct APIMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: APIMetrics

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(request, context, status: status, start: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, start: ContinuousClock.Instant) {
        let route = (context.endpointPath ?? "unmatched").replacing(/:(\w+)/) { "{\($0.1)}" }
        metrics.record(method: request.method.rawValue, route: route, status: status, duration: start.duration(to: .now))
    }
}
