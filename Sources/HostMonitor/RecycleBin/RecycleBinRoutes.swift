import Core
import Hummingbird

extension RecycleEntry: ResponseEncodable {}
extension RecycleBinList: ResponseEncodable {}
extension DeletionResult: ResponseEncodable {}

/// Routes of the recycle bin and of permanent deletion (docs/api.md).
enum RecycleBinRoutes {
    static func add(to router: Router<BasicRequestContext>, _ bin: RecycleBinService, _ destroy: DestroyService) {
        router.post("/v1/vms/:vm/recycle") { request, context in
            let body = try await RequestBody.decode(RecycleRequest.self, request, context, hint: "send {\"withDisks\": bool, \"force\": bool}")
            return try await bin.recycle(vm: try context.parameters.decoded("vm"), body)
        }
        router.post("/v1/vms/:vm/destroy") { request, context in
            let body = try await RequestBody.decode(DestroyRequest.self, request, context, hint: "send {\"deleteDisks\": bool, \"wipe\": bool, \"force\": bool}")
            let vm = try context.parameters.decoded("vm")
            // A wipe is a long operation: its OperationInfo instead of the result.
            if body.wipe == true { return try await destroy.destroyVMWiping(vm: vm, body).response(from: request, context: context) }
            return try await destroy.destroyVM(vm: vm, body).response(from: request, context: context)
        }
        router.get("/v1/recycle-bin") { _, _ in try bin.recycleBin() }
        router.post("/v1/recycle-bin/:entry/restore") { request, context in
            let body = try await RequestBody.decode(RestoreRequest.self, request, context, hint: "send {} or {\"name\": \"NEWNAME\"}")
            return try await bin.restore(try context.parameters.decoded("entry"), body)
        }
        router.post("/v1/recycle-bin/:entry/purge") { request, context in
            let body = try await RequestBody.decode(PurgeRequest.self, request, context, hint: "send {} or {\"wipe\": true}")
            let entry = try context.parameters.decoded("entry")
            if body.wipe == true { return try await bin.purgeWiping(entry).response(from: request, context: context) }
            return try await bin.purge(entry, body).response(from: request, context: context)
        }
    }
}
