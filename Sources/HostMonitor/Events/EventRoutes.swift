import Core
import Foundation
import Hummingbird

extension EventList: ResponseEncodable {}

/// `GET /v1/events` (docs/api.md): `vm`, `since` (seconds since 1970),
/// `after` (an event id) and `wait` (long poll, seconds).
enum EventRoutes {
    static func add(to router: Router<BasicRequestContext>, _ events: EventService) {
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
            return EventList(events: try await events.eventList(vm: q.get("vm"), since: since, afterID: after, waitSeconds: wait))
        }
    }
}
