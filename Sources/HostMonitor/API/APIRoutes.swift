import Core
import Foundation
import Hummingbird
import Libvirt

extension HostInfo: ResponseEncodable {}
extension VMSummary: ResponseEncodable {}

/// `GET /v1/vms` body.
public struct VMListResponse: Codable, Sendable, ResponseEncodable {
    public var vms: [VMSummary]
}

/// The HTTP+JSON API, a thin front end over `MonitorService`.
enum APIRoutes {
    static func router(monitor: MonitorService) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorTranslation())
        router.get("/v1/host") { _, _ in try await monitor.hostInfo() }
        router.get("/v1/vms") { _, _ in VMListResponse(vms: try await monitor.vmList()) }
        router.get("/v1/vms/:vm") { _, context in
            let key = try context.parameters.require("vm")
            guard let vm = try await monitor.vmList().first(where: { $0.name == key || $0.uuid == key }) else {
                throw APIError.notFound("no VM named or with UUID '\(key)'", hint: "list VMs with 'vigil vm list'")
            }
            return vm
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
