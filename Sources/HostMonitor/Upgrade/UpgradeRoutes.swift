import Core
import Hummingbird

extension AgentPackageManifest: ResponseEncodable {}
extension AgentRepository.Listing: ResponseEncodable {}
extension AgentUpgrader.Result: ResponseEncodable {}

/// `POST /v1/agents/upgrade` reply.
public struct UpgradeResults: Codable, Sendable, ResponseEncodable {
    var results: [AgentUpgrader.Result]
}

/// `/v1/agent-repo` and agent upgrades (docs/api.md).
enum UpgradeRoutes {
    static func add(to router: Router<BasicRequestContext>, _ upgrades: UpgradeService) {
        router.get("/v1/agent-repo") { _, _ in upgrades.repoList() }
        router.post("/v1/agent-repo") { request, context in
            let body = try await RequestBody.decode(RepoAddRequest.self, request, context,
                                                    expected: "{\"path\": \"/absolute/file.vpkg\"}", hint: "vigil agent repo add FILE")
            return try upgrades.repoAdd(path: body.path)
        }
        router.post("/v1/vms/:vm/agent/upgrade") { _, context in
            try await upgrades.upgradeAgent(vm: try context.parameters.decoded("vm"))
        }
        router.post("/v1/agents/upgrade") { request, context in
            let body = try await RequestBody.decode(UpgradeAllRequest.self, request, context,
                                                    expected: "{\"batch\": N}", hint: "vigil agent upgrade --all --batch N")
            return UpgradeResults(results: try await upgrades.upgradeAll(batch: body.batch))
        }
    }
}
