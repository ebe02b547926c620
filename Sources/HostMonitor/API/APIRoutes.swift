import Core
import Foundation
import Hummingbird
import Libvirt

extension HostInfo: ResponseEncodable {}
extension VMSummary: ResponseEncodable {}
extension PolicyDocument: ResponseEncodable {}
extension PolicyUpdate: ResponseEncodable {}
extension EventList: ResponseEncodable {}
extension TimeStatus: ResponseEncodable {}
extension VMSettingsDocument: ResponseEncodable {}
extension AgentPackageManifest: ResponseEncodable {}
extension AgentRepository.Listing: ResponseEncodable {}
extension AgentUpgrader.Result: ResponseEncodable {}
extension RecycleEntry: ResponseEncodable {}
extension RecycleBinList: ResponseEncodable {}
extension DeletionResult: ResponseEncodable {}
extension OperationInfo: ResponseEncodable {}
extension OperationList: ResponseEncodable {}
extension TemplateInfo: ResponseEncodable {}
extension BootOrder: ResponseEncodable {}
extension TemplateList: ResponseEncodable {}
extension HardwareReport: ResponseEncodable {}
extension HardwareChangeResult: ResponseEncodable {}

/// `POST /v1/agents/upgrade` reply.
public struct UpgradeResults: Codable, Sendable, ResponseEncodable {
    var results: [AgentUpgrader.Result]
}

/// `GET /v1/vms` body.
public struct VMListResponse: Codable, Sendable, ResponseEncodable {
    public var vms: [VMSummary]
}

/// `GET /v1/agents` body.
public struct AgentList: Codable, Sendable, ResponseEncodable {
    public var agents: [AgentStatus]
}

/// The HTTP+JSON API (documented in docs/api.md), a thin front end over
/// `MonitorService`.
enum APIRoutes {
    static func router(monitor: MonitorService) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorTranslation())
        router.get("/v1/host") { _, _ in try await monitor.hostInfo() }
        router.get("/v1/vms") { _, _ in VMListResponse(vms: try await monitor.vmList()) }
        router.get("/v1/vms/:vm") { _, context in
            let key = try context.parameters.decoded("vm")
            guard let vm = try await monitor.vmList().first(where: { $0.name == key || $0.uuid == key }) else {
                throw APIError.notFound("no VM named or with UUID '\(key)'", hint: "list VMs with 'vigil vm list'")
            }
            return vm
        }
        router.get("/v1/vms/:vm/policy") { _, context in
            try await monitor.policy(vm: try context.parameters.decoded("vm"))
        }
        router.put("/v1/vms/:vm/policy") { request, context in
            let policy = try await RequestBody.decode(ProtectionPolicy.self, request, context,
                                                      hint: "send the fields onCrash, heartbeatIntervalMs, misses, minUptimeSeconds, maxResets, windowSeconds")
            return try await monitor.setPolicy(vm: try context.parameters.decoded("vm"), policy: policy)
        }
        router.get("/v1/vms/:vm/time") { _, context in
            try await monitor.timeStatus(vm: try context.parameters.decoded("vm"))
        }
        router.post("/v1/vms/:vm/time/sync") { _, context in
            try await monitor.syncTime(vm: try context.parameters.decoded("vm"))
        }
        router.get("/v1/vms/:vm/settings") { _, context in
            try await monitor.settings(vm: try context.parameters.decoded("vm"))
        }
        router.put("/v1/vms/:vm/settings") { request, context in
            let change = try await RequestBody.decode(VMSettingsDocument.self, request, context,
                                                      hint: "send any of displayName, description, ioWeight (100-1000), onCrash (restart, migrate, ignore), "
                                                            + "haEnabled, haPriority (high, medium, low), autoMigrate, timeSync, autoUpgrade (true or false)")
            return try await monitor.setSettings(vm: try context.parameters.decoded("vm"), change)
        }
        router.post("/v1/vms") { request, context in
            let body = try await RequestBody.decode(VMCreateRequest.self, request, context, hint: "see docs/api.md (VMCreateRequest)")
            return try await monitor.createVM(body)
        }
        router.post("/v1/vms/:vm/power") { request, context in
            let body = try await RequestBody.decode(PowerRequest.self, request, context,
                                                    expected: "{\"action\": ACTION} with ACTION one of "
                                                        + PowerAction.allCases.map(\.rawValue).joined(separator: ", "),
                                                    hint: "see 'vigil vm --help'")
            return try await monitor.power(vm: try context.parameters.decoded("vm"), body)
        }
        RecycleBinRoutes.add(to: router, monitor: monitor)
        router.put("/v1/vms/:vm/autostart") { request, context in
            let body = try await RequestBody.decode(AutostartRequest.self, request, context,
                                                    expected: "{\"enabled\": true|false}", hint: "vigil vm autostart VM on|off")
            return try await monitor.setAutostart(vm: try context.parameters.decoded("vm"), enabled: body.enabled)
        }
        HardwareRoutes.add(to: router, monitor: monitor)
        router.post("/v1/vms/:vm/clone") { request, context in
            let body = try await RequestBody.decode(CloneRequest.self, request, context,
                                                    expected: "{\"name\": NEW, \"mode\": \"full\"|\"linked\", \"directory\"?, \"host\"?, \"start\"?}",
                                                    hint: "vigil vm clone SOURCE NEW")
            let started = try await monitor.clone(vm: try context.parameters.decoded("vm"), body)
            // ?wait=S: answer when it ends (or after S seconds), saving the client a round trip.
            let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 0
            return wait > 0 ? try await monitor.operation(id: started.id, waitSeconds: wait) : started
        }
        router.get("/v1/operations") { _, _ in OperationList(operations: try await monitor.operationList()) }
        router.get("/v1/operations/:id") { request, context in
            let wait = request.uri.queryParameters.get("wait").flatMap(Double.init) ?? 0
            return try await monitor.operation(id: try context.parameters.decoded("id"), waitSeconds: wait)
        }
        router.post("/v1/operations/:id/cancel") { _, context in
            try await monitor.cancelOperation(id: try context.parameters.decoded("id"))
        }
        TemplateRoutes.add(to: router, monitor: monitor)
        router.get("/v1/vms/:vm/boot-order") { _, context in
            try await monitor.bootOrder(vm: try context.parameters.decoded("vm"))
        }
        router.put("/v1/vms/:vm/boot-order") { request, context in
            let body = try await RequestBody.decode(BootOrder.self, request, context,
                                                    expected: "{\"devices\": [\"hd\", \"cdrom\", ...]}", hint: "vigil vm boot-order VM hd,cdrom")
            return try await monitor.setBootOrder(vm: try context.parameters.decoded("vm"), body)
        }
        router.get("/v1/agent-repo") { _, _ in monitor.repoList() }
        router.post("/v1/agent-repo") { request, context in
            let body = try await RequestBody.decode(RepoAddRequest.self, request, context,
                                                    expected: "{\"path\": \"/absolute/file.vpkg\"}", hint: "vigil agent repo add FILE")
            return try monitor.repoAdd(path: body.path)
        }
        router.post("/v1/vms/:vm/agent/upgrade") { _, context in
            try await monitor.upgradeAgent(vm: try context.parameters.decoded("vm"))
        }
        router.post("/v1/agents/upgrade") { request, context in
            let body = try await RequestBody.decode(UpgradeAllRequest.self, request, context,
                                                    expected: "{\"batch\": N}", hint: "vigil agent upgrade --all --batch N")
            return UpgradeResults(results: try await monitor.upgradeAll(batch: body.batch))
        }
        router.get("/v1/agents") { request, _ in
            AgentList(agents: try await monitor.agentStatus(vm: request.uri.queryParameters.get("vm")))
        }
        router.get("/v1/events") { request, _ in
            let q = request.uri.queryParameters
            var since: Date?
            if let s = q.get("since") {
                guard let seconds = Double(s) else {
                    throw APIError.badRequest("since must be seconds since 1970, got '\(s)'", hint: "vigil events --since accepts 10m, 2h, 1d or an ISO date")
                }
                since = Date(timeIntervalSince1970: seconds)
            }
            let after = try q.get("after").map { s -> Int64 in
                guard let v = Int64(s) else { throw APIError.badRequest("after must be an event id, got '\(s)'", hint: "use the id of the last event you have") }
                return v
            }
            let wait = q.get("wait").flatMap(Int.init) ?? 0
            return EventList(events: try await monitor.eventList(vm: q.get("vm"), since: since, afterID: after, waitSeconds: wait))
        }
        return router
    }
}

/// Turns libvirt and unexpected errors into API errors with a message,
/// so clients never see a bare 500.
struct ErrorTranslation<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError(error.status, error.body ?? "\(error.status)", hint: "see 'vigil --help'")
        } catch let error as LibvirtError {
            if error.code == .noDomain {
                throw APIError.notFound(error.description, hint: "list VMs with 'vigil vm list'")
            }
            throw APIError(.badGateway, error.description, hint: "check libvirtd's log for details")
        } catch {
            throw APIError(.internalServerError, "\(error)", hint: "see vigild's log")
        }
    }
}
