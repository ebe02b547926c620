import Core
import Hummingbird

extension TimeStatus: ResponseEncodable {}

/// `/v1/vms/{vm}/time…` (docs/api.md).
enum TimeRoutes {
    static func add(to router: Router<BasicRequestContext>, _ time: TimeService) {
        router.get("/v1/vms/:vm/time") { _, context in
            try await time.status(vm: try context.parameters.decoded("vm"))
        }
        router.post("/v1/vms/:vm/time/sync") { _, context in
            try await time.sync(vm: try context.parameters.decoded("vm"))
        }
    }
}
