import Core
import Hummingbird

/// `?wait=S` on a route that starts a long operation: the answer comes when
/// it ends (or after S seconds, at most 60), saving the client a round trip.
enum OperationWait {
    static func answer(_ started: OperationInfo, _ request: Request, _ operations: OperationService) async throws -> OperationInfo {
        let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 0
        return wait > 0 ? try await operations.operation(id: started.id, waitSeconds: wait) : started
    }
}
