import Core
import Hummingbird

extension HostInfo: ResponseEncodable {}
extension VMSummary: ResponseEncodable {}
extension BootOrder: ResponseEncodable {}

/// `GET /v1/vms` body.
public struct VMListResponse: Codable, Sendable, ResponseEncodable {
    public var vms: [VMSummary]
}

/// `GET /v1/agents` body.
public struct AgentList: Codable, Sendable, ResponseEncodable {
    public var agents: [AgentStatus]
}

/// The host, the VM list, agent status, and a VM's lifecycle: create,
/// power, autostart, boot order (docs/api.md).
enum VMRoutes {
    static func add(to router: Router<BasicRequestContext>, _ vms: VMService, _ lifecycle: LifecycleService) {
        router.get("/v1/host") { _, _ in try await vms.hostInfo() }
        router.get("/v1/vms") { _, _ in VMListResponse(vms: try await vms.vmList()) }
        router.get("/v1/vms/:vm") { _, context in try await vms.vm(try context.parameters.decoded("vm")) }
        router.get("/v1/agents") { request, _ in
            AgentList(agents: try await vms.agentStatus(vm: request.uri.queryParameters.get("vm")))
        }
        router.post("/v1/vms") { request, context in
            let body = try await RequestBody.decode(VMCreateRequest.self, request, context, hint: "see docs/api.md (VMCreateRequest)")
            return try await lifecycle.createVM(body)
        }
        router.post("/v1/vms/:vm/power") { request, context in
            let body = try await RequestBody.decode(PowerRequest.self, request, context,
                                                    expected: "{\"action\": ACTION} with ACTION one of "
                                                        + PowerAction.allCases.map(\.rawValue).joined(separator: ", "),
                                                    hint: "see 'vigil vm --help'")
            return try await lifecycle.power(vm: try context.parameters.decoded("vm"), body)
        }
        router.put("/v1/vms/:vm/autostart") { request, context in
            let body = try await RequestBody.decode(AutostartRequest.self, request, context,
                                                    expected: "{\"enabled\": true|false}", hint: "vigil vm autostart VM on|off")
            return try await lifecycle.setAutostart(vm: try context.parameters.decoded("vm"), enabled: body.enabled)
        }
        router.get("/v1/vms/:vm/boot-order") { _, context in
            try await lifecycle.bootOrder(vm: try context.parameters.decoded("vm"))
        }
        router.put("/v1/vms/:vm/boot-order") { request, context in
            let body = try await RequestBody.decode(BootOrder.self, request, context,
                                                    expected: "{\"devices\": [\"hd\", \"cdrom\", ...]}", hint: "vigil vm boot-order VM hd,cdrom")
            return try await lifecycle.setBootOrder(vm: try context.parameters.decoded("vm"), body)
        }
    }
}
