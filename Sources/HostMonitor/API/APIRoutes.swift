import Core
import Hummingbird
import Libvirt

/// The HTTP+JSON API (documented in docs/api.md): the shared error
/// translation, then each area's routes, which live beside the area.
enum APIRoutes {
    /// `front` adds the middleware that sees each request first (metrics,
    /// and on the TCP listener authentication).
    static func router(_ areas: Areas, front: (Router<BasicRequestContext>) -> Void = { _ in }) -> Router<BasicRequestContext> {
        let router = Router()
        front(router)
        router.add(middleware: ErrorTranslation())
        VMRoutes.add(to: router, areas.vms, areas.lifecycle)
        PolicyRoutes.add(to: router, areas.policies)
        TimeRoutes.add(to: router, areas.time)
        SettingsRoutes.add(to: router, areas.settings)
        RecycleBinRoutes.add(to: router, areas.recycleBin, areas.destroy)
        HardwareRoutes.add(to: router, areas.hardware)
        CloneRoutes.add(to: router, areas.clones, operations: areas.operations)
        MigrationRoutes.add(to: router, areas.migrations, operations: areas.operations)
        MigrationRoutes.add(to: router, areas.maintenance, operations: areas.operations)
        MigrationRoutes.add(to: router, areas.storageMoves, operations: areas.operations)
        OperationRoutes.add(to: router, areas.operations)
        TemplateRoutes.add(to: router, areas.templates)
        UpgradeRoutes.add(to: router, areas.upgrades)
        EventRoutes.add(to: router, areas.events)
        SnapshotRoutes.add(to: router, areas.snapshots, areas.snapshotPolicies, operations: areas.operations)
        BackupRoutes.add(to: router, areas.backups, areas.backupPolicies, operations: areas.operations)
        TokenRoutes.add(to: router, areas.tokens)
        ClusterRoutes.add(to: router, areas.cluster)
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
            // What this host's hypervisor cannot do, or not in the VM's state:
            // a request that does not fit, not a fault of vigild or libvirtd.
            // (An invalid argument from libvirt is a flag this driver does not take, such as
            // an agent shutdown on the test driver: Vigil's own arguments are checked before.)
            if [.noSupport, .operationUnsupported, .operationInvalid, .invalidArgument].contains(error.code) {
                throw APIError.conflict(error.description,
                                        hint: "this host's hypervisor cannot do that now; see 'vigil vm hardware VM' and the VM's state, or use --next-boot")
            }
            throw APIError(.badGateway, error.description, hint: "check libvirtd's log for details")
        } catch {
            throw APIError(.internalServerError, "\(error)", hint: "see vigild's log")
        }
    }
}
