import Core
import Hummingbird

extension PolicyDocument: ResponseEncodable {}
extension PolicyUpdate: ResponseEncodable {}

/// `/v1/vms/{vm}/policy` (docs/api.md).
enum PolicyRoutes {
    static func add(to router: Router<BasicRequestContext>, _ policies: PolicyService) {
        router.get("/v1/vms/:vm/policy") { _, context in
            try await policies.policy(vm: try context.parameters.decoded("vm"))
        }
        router.put("/v1/vms/:vm/policy") { request, context in
            let policy = try await RequestBody.decode(ProtectionPolicy.self, request, context,
                                                      hint: "send the fields onCrash, heartbeatIntervalMs, misses, minUptimeSeconds, maxResets, windowSeconds")
            return try await policies.setPolicy(vm: try context.parameters.decoded("vm"), policy: policy)
        }
    }
}
