import Core
import Hummingbird

extension SnapshotList: ResponseEncodable {}
extension SnapshotPolicyList: ResponseEncodable {}
extension SnapshotPolicy: ResponseEncodable {}

/// `/v1/vms/{vm}/snapshots…` and `/v1/snapshot-policies…` (docs/api.md):
/// the long work answers with its operation (`?wait=S` waits for it).
enum SnapshotRoutes {
    static func add(to router: Router<BasicRequestContext>, _ snapshots: SnapshotService, _ policies: SnapshotPolicyService,
                    operations: OperationService) {
        router.get("/v1/vms/:vm/snapshots") { _, context in
            try await snapshots.list(vm: try context.parameters.decoded("vm"))
        }
        router.post("/v1/vms/:vm/snapshots") { request, context in
            let body = try await RequestBody.decode(SnapshotRequest.self, request, context,
                                                    expected: "{\"name\": NAME, \"description\"?, \"memory\"?, \"quiesce\"?, \"timeoutSeconds\"?}",
                                                    hint: "vigil snapshot create VM NAME")
            return try await OperationWait.answer(try await snapshots.create(vm: try context.parameters.decoded("vm"), body), request, operations)
        }
        router.post("/v1/vms/:vm/snapshots/:snapshot/revert") { request, context in
            let body = try await RequestBody.decodeOptional(SnapshotRevertRequest.self, request, context,
                                                            expected: "{\"start\"?, \"paused\"?}", hint: "vigil snapshot revert VM NAME")
            let started = try await snapshots.revert(vm: try context.parameters.decoded("vm"),
                                                     snapshot: try context.parameters.decoded("snapshot"), body ?? SnapshotRevertRequest())
            return try await OperationWait.answer(started, request, operations)
        }
        router.delete("/v1/vms/:vm/snapshots/:snapshot") { request, context in
            let subtree = request.uri.queryParameters.get("subtree") == "true"
            let started = try await snapshots.delete(vm: try context.parameters.decoded("vm"),
                                                     snapshot: try context.parameters.decoded("snapshot"), subtree: subtree)
            return try await OperationWait.answer(started, request, operations)
        }
        router.get("/v1/snapshot-policies") { _, _ in try policies.list() }
        router.put("/v1/snapshot-policies/:policy") { request, context in
            var body = try await RequestBody.decode(SnapshotPolicy.self, request, context,
                                                    expected: "{\"name\", \"vms\": [VM], \"schedule\": \"every 6h\", \"keep\": N, \"memory\"?, \"minFreePercent\"?}",
                                                    hint: "vigil snapshot policy set NAME --vm VM --schedule 'every 6h' --keep N")
            body.name = try context.parameters.decoded("policy")
            return try await policies.set(body)
        }
        router.delete("/v1/snapshot-policies/:policy") { _, context in
            try policies.delete(try context.parameters.decoded("policy"))
        }
    }
}
