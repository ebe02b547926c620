import Core
import Hummingbird

/// `POST /v1/vms/{vm}/clone` (docs/api.md): answers with the operation.
enum CloneRoutes {
    static func add(to router: Router<BasicRequestContext>, _ clones: CloneService, operations: OperationService) {
        router.post("/v1/vms/:vm/clone") { request, context in
            let body = try await RequestBody.decode(CloneRequest.self, request, context,
                                                    expected: "{\"name\": NEW, \"mode\": \"full\"|\"linked\", \"directory\"?, \"host\"?, \"start\"?}",
                                                    hint: "vigil vm clone SOURCE NEW")
            let started = try await clones.clone(vm: try context.parameters.decoded("vm"), body)
            // ?wait=S: answer when it ends (or after S seconds), saving the client a round trip.
            let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 0
            return wait > 0 ? try await operations.operation(id: started.id, waitSeconds: wait) : started
        }
    }
}
