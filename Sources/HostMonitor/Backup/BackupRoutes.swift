import Core
import Hummingbird

extension BackupList: ResponseEncodable {}
extension BackupVerifyResult: ResponseEncodable {}
extension BackupPolicy: ResponseEncodable {}
extension BackupPolicyList: ResponseEncodable {}

/// `/v1/vms/{vm}/backups` and `/v1/backups…` (docs/api.md): taking and
/// restoring answer with their operation (`?wait=S` waits for it); list,
/// delete and verify answer at once. `?destination=` picks the repository
/// (default: vigild's --backup-destination).
enum BackupRoutes {
    static func add(to router: Router<BasicRequestContext>, _ backups: BackupService, _ policies: BackupPolicyService,
                    operations: OperationService) {
        router.get("/v1/backup-policies") { _, _ in try policies.list() }
        router.put("/v1/backup-policies/:policy") { request, context in
            var body = try await RequestBody.decode(BackupPolicy.self, request, context,
                                                    expected: "{\"name\", \"vms\": [VM], \"schedule\": \"daily 01:00\", \"level\"?, \"fullSchedule\"?, \"destination\"?, \"keep\"?, \"compress\", \"verifySchedule\"?}",
                                                    hint: "vigil backup policy set NAME --vm VM --schedule 'daily 01:00'")
            body.name = try context.parameters.decoded("policy")
            return try await policies.set(body)
        }
        router.delete("/v1/backup-policies/:policy") { _, context in
            try policies.delete(try context.parameters.decoded("policy"))
        }
        router.get("/v1/backups") { request, _ in
            let q = request.uri.queryParameters
            return try await backups.list(vm: q.get("vm"), destination: q.get("destination"))
        }
        router.post("/v1/vms/:vm/backups") { request, context in
            let body = try await RequestBody.decodeOptional(BackupRequest.self, request, context,
                                                            expected: "{\"level\"?: \"full|incremental|differential|auto\", \"destination\"?, \"keep\"?, \"compress\"?, \"rateLimitMiBs\"?, \"quiesce\"?, \"tempDirectory\"?}",
                                                            hint: "vigil backup create VM [--level L] [--destination D]")
            return try await OperationWait.answer(try await backups.create(vm: try context.parameters.decoded("vm"), body ?? BackupRequest()),
                                                  request, operations)
        }
        router.post("/v1/backups/:backup/restore") { request, context in
            let body = try await RequestBody.decode(BackupRestoreRequest.self, request, context,
                                                    expected: "{\"name\": NEW} or {\"inPlace\": true, \"force\"?}, with \"storageDirectory\"?, \"storagePool\"?, \"start\"?, \"destination\"?",
                                                    hint: "vigil backup restore BACKUP --name NEW | --in-place")
            return try await OperationWait.answer(try await backups.restore(id: try context.parameters.decoded("backup"), body),
                                                  request, operations)
        }
        router.post("/v1/backups/:backup/verify") { request, context in
            try await backups.verify(id: try context.parameters.decoded("backup"), vm: nil,
                                     destination: request.uri.queryParameters.get("destination"))
        }
        router.post("/v1/backups/verify") { request, _ in
            let q = request.uri.queryParameters
            return try await backups.verify(id: nil, vm: q.get("vm"), destination: q.get("destination"))
        }
        router.delete("/v1/backups/:backup") { request, context in
            try await backups.delete(id: try context.parameters.decoded("backup"), destination: request.uri.queryParameters.get("destination"))
        }
    }
}
