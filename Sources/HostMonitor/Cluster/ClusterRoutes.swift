import Core
import Hummingbird

extension ClusterStatus: ResponseEncodable {}
extension ClusterEventList: ResponseEncodable {}
extension ClusterHAConfig: ResponseEncodable {}

/// `/v1/cluster`, `/v1/cluster/events`, `/v1/cluster/ha` (docs/api.md).
enum ClusterRoutes {
    static func add(to router: Router<BasicRequestContext>, _ cluster: ClusterService?) {
        @Sendable func clustered() throws -> ClusterService {
            guard let cluster else {
                throw APIError.conflict("this vigild is not in a cluster",
                                        hint: "start vigild with --cluster-endpoints URL,... (the etcd members) and --shared-storage DIR")
            }
            return cluster
        }
        router.get("/v1/cluster") { _, _ in try await clustered().status() }
        router.get("/v1/cluster/events") { request, _ in
            let limit = request.uri.queryParameters.get("limit").flatMap(Int.init) ?? 100
            return try await clustered().eventList(limit: limit)
        }
        router.put("/v1/cluster/ha") { request, context in
            let body = try await RequestBody.decode(ClusterHARequest.self, request, context,
                                                    expected: "{\"enabled\": true|false, \"minHosts\"?, \"failoverHosts\"?, \"reserveCPUPercent\"?, \"reserveMemoryPercent\"?}",
                                                    hint: "vigil cluster ha on|off [--min-hosts N --failover-host H --reserve-cpu P --reserve-memory P]")
            return try await clustered().setHA(body)
        }
    }
}
