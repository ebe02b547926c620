import Core
import Hummingbird

/// `POST /v1/vms/{vm}/clone` (docs/api.md): answers with the operation.
enum CloneRoutes {
    static func add(to router: Router<BasicRequestContext>, _ clones: CloneService, operations: OperationService) {
        router.post("/v1/vms/:vm/clone") { request, context in
            let body = try await RequestBody.decode(CloneRequest.self, request, context,
                                                    expected: "{\"name\": NEW, \"mode\": \"full\"|\"linked\", \"directory\"?, \"host\"?, \"start\"?}",
                                                    hint: "vigil vm clone SOURCE NEW")
            return try await OperationWait.answer(try await clones.clone(vm: try context.parameters.decoded("vm"), body), request, operations)
        }
    }
}
