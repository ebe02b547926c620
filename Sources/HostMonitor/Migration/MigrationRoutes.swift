import Core
import Hummingbird

extension MigrationHistory: ResponseEncodable {}
extension MaintenanceStatus: ResponseEncodable {}

/// `/v1/vms/{vm}/migrate`, `/v1/vms/{vm}/migrations` and `/v1/migrations` (docs/api.md).
enum MigrationRoutes {
    static func add(to router: Router<BasicRequestContext>, _ migrations: MigrationService, operations: OperationService) {
        router.post("/v1/vms/:vm/migrate") { request, context in
            let body = try await RequestBody.decode(MigrationRequest.self, request, context,
                                                    expected: "{\"destination\": URI, \"live\"?, \"timeoutSeconds\"?, \"compress\"?, \"bandwidthMiBs\"?, ...}",
                                                    hint: "vigil vm migrate VM --to URI")
            return try await OperationWait.answer(try await migrations.migrate(vm: try context.parameters.decoded("vm"), body), request, operations)
        }
        router.get("/v1/vms/:vm/migrations") { _, context in
            MigrationHistory(migrations: try migrations.history(vm: try context.parameters.decoded("vm")))
        }
        router.get("/v1/migrations") { _, _ in MigrationHistory(migrations: try migrations.history(vm: nil)) }
    }

    /// `/v1/vms/{vm}/move-storage`: answers with the move's operation.
    static func add(to router: Router<BasicRequestContext>, _ storage: StorageMoveService, operations: OperationService) {
        router.post("/v1/vms/:vm/move-storage") { request, context in
            let body = try await RequestBody.decode(StorageMoveRequest.self, request, context,
                                                    expected: "{\"directory\": DIR} or {\"pool\": POOL}, with \"keepOld\"?",
                                                    hint: "vigil vm move-storage VM --dir DIR")
            return try await OperationWait.answer(try await storage.move(vm: try context.parameters.decoded("vm"), body), request, operations)
        }
    }

    /// `/v1/host/maintenance`: switching it on answers with the evacuation's operation.
    static func add(to router: Router<BasicRequestContext>, _ maintenance: HostMaintenance, operations: OperationService) {
        router.get("/v1/host/maintenance") { _, _ in maintenance.status() }
        router.put("/v1/host/maintenance") { request, context in
            let body = try await RequestBody.decode(MaintenanceRequest.self, request, context,
                                                    expected: "{\"on\": true|false}", hint: "vigil host maintenance on|off")
            return try await OperationWait.answer(try await maintenance.set(body), request, operations)
        }
    }
}
