import Core

/// Long operations in the API: listing, waiting for and cancelling what runs.
struct OperationService: Sendable {
    let operations: OperationCenter

    func list() async throws -> [OperationInfo] { try await operations.list() }

    /// One operation; with `waitSeconds` (at most 60), once it ends or the wait is over.
    func operation(id: String, waitSeconds: Double = 0) async throws -> OperationInfo {
        guard let info = try await operations.wait(id: id, seconds: min(max(waitSeconds, 0), 60)) else {
            throw APIError.notFound("no operation \(id)", hint: "list operations with 'vigil op list'")
        }
        return info
    }

    func cancel(id: String) async throws -> OperationInfo { try await operations.cancel(id: id) }
}
