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
            let started = try await migrations.migrate(vm: try context.parameters.decoded("vm"), body)
            // ?wait=S: answer when it ends (or after S seconds).
            let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 0
            return wait > 0 ? try await operations.operation(id: started.id, waitSeconds: wait) : started
        }
        router.get("/v1/vms/:vm/migrations") { _, context in
            MigrationHistory(migrations: try migrations.history(vm: try context.parameters.decoded("vm")))
        }
        router.get("/v1/migrations") { _, _ in MigrationHistory(migrations: try migrations.history(vm: nil)) }
    }

    /// `/v1/host/maintenance`: switching it on answers with the evacuation's operation.
    static func add(to router: Router<BasicRequestContext>, _ maintenance: HostMaintenance, operations: OperationService) {
        router.get("/v1/host/maintenance") { _, _ in maintenance.status() }
        router.put("/v1/host/maintenance") { request, context in
            let body = try await RequestBody.decode(MaintenanceRequest.self, request, context,
                                                    expected: "{\"on\": true|false}", hint: "vigil host maintenance on|off")
            let started = try await maintenance.set(body)
            let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 0
            return wait > 0 ? try await operations.operation(id: started.id, waitSeconds: wait) : started
        }
    }
}
