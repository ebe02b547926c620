import FoundationEssentials
import FuzzSupport

// The API's request bodies: vigild decodes them with Hummingbird's request
// decoder for BasicRequestContext, a JSONDecoder with .iso8601 dates
// (RequestContext.requestDecoder; RequestBody.decode refuses what it throws),
// into the Core request types below. The first input byte picks the type, the
// rest is the body. Whatever decodes must encode (as the CLI sends it) and
// decode back to the same value; checks vigild runs on a body before using it
// must not trap either.
@main
enum FuzzRequestBody {
    /// As Hummingbird's `RequestContext.requestDecoder` (BasicRequestContext).
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = .sortedKeys
        return e
    }()

    /// Every Core type an API route decodes a body into (RequestBody.decode and
    /// decodeOptional in Sources/HostMonitor; FuzzRegressionTests checks none is missing).
    static let bodies: [@Sendable (Data) -> Void] = [
        { roundTrip(ProtectionPolicy.self, $0) { p in if p.problems.isEmpty { _ = p.heartbeatWindowMs } } },
        { roundTrip(VMSettingsDocument.self, $0) },
        { roundTrip(VMCreateRequest.self, $0) },
        { roundTrip(PowerRequest.self, $0) },
        { roundTrip(AutostartRequest.self, $0) },
        { roundTrip(CloneRequest.self, $0) },
        { roundTrip(BootOrder.self, $0) },
        { roundTrip(CPUChangeRequest.self, $0) },
        { roundTrip(MemoryChangeRequest.self, $0) },
        { roundTrip(DiskAddRequest.self, $0) },
        { roundTrip(DiskGrowRequest.self, $0) },
        { roundTrip(NICAddRequest.self, $0) },
        { roundTrip(RecycleRequest.self, $0) },
        { roundTrip(DestroyRequest.self, $0) },
        { roundTrip(RestoreRequest.self, $0) },
        { roundTrip(PurgeRequest.self, $0) },
        { roundTrip(TemplateCreateRequest.self, $0) },
        { roundTrip(TemplateFileRequest.self, $0) },
        { roundTrip(TemplateEditRequest.self, $0) },
        { roundTrip(TemplateDeployRequest.self, $0) },
        { roundTrip(MigrationRequest.self, $0) { _ = $0.problems } },
        { roundTrip(StorageMoveRequest.self, $0) { _ = $0.problems } },
        { roundTrip(MaintenanceRequest.self, $0) },
        { roundTrip(SnapshotRequest.self, $0) { _ = $0.problems } },
        { roundTrip(SnapshotRevertRequest.self, $0) },
        { roundTrip(SnapshotPolicy.self, $0) { _ = $0.problems } },
        { roundTrip(BackupRequest.self, $0) { _ = $0.problems } },
        { roundTrip(BackupRestoreRequest.self, $0) { _ = $0.problems } },
        { roundTrip(BackupPolicy.self, $0) { _ = $0.problems } },
        { roundTrip(ClusterHARequest.self, $0) },
        { roundTrip(TokenCreateRequest.self, $0) },
        { roundTrip(RepoAddRequest.self, $0) },
        { roundTrip(UpgradeAllRequest.self, $0) },
    ]

    static func main() {
        FuzzMain.run { bytes in
            guard let selector = bytes.first else { return }
            bodies[Int(selector) % bodies.count](Data(bytes.dropFirst()))
        }
    }

    static func roundTrip<T: Codable>(_ type: T.Type, _ body: Data, then use: (T) -> Void = { _ in }) {
        guard let value = try? decoder.decode(T.self, from: body) else { return }
        use(value)
        guard let once = try? encoder.encode(value) else { preconditionFailure("a decoded \(T.self) does not encode") }
        guard let back = try? decoder.decode(T.self, from: once) else { preconditionFailure("an encoded \(T.self) does not decode") }
        precondition((try? encoder.encode(back)) == once, "\(T.self) changed in a round trip")
    }
}
