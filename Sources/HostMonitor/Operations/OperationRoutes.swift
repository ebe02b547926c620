import Core
import Hummingbird

extension OperationInfo: ResponseEncodable {}
extension OperationList: ResponseEncodable {}

/// `/v1/operations…` (docs/api.md).
enum OperationRoutes {
    static func add(to router: Router<BasicRequestContext>, _ operations: OperationService) {
        router.get("/v1/operations") { _, _ in OperationList(operations: try await operations.list()) }
        router.get("/v1/operations/:id") { request, context in
            let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 0
            return try await operations.operation(id: try context.parameters.decoded("id"), waitSeconds: wait)
        }
        router.post("/v1/operations/:id/cancel") { _, context in
            try await operations.cancel(id: try context.parameters.decoded("id"))
        }
    }
}
