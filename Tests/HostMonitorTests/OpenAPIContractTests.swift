import Foundation
@testable import HostMonitor
import Logging
import Testing
import TestSupport
import Yams

/// `docs/openapi.yaml` against the routes vigild registers: every route is
/// in the spec and every path and method of the spec is a route.
@Suite struct OpenAPIContractTests {
    struct Route: Hashable, CustomStringConvertible {
        let method: String
        let path: String
        var description: String { "\(method) \(path)" }
    }

    static func specRoutes() throws -> Set<Route> {
        let text = try String(contentsOfFile: BuiltProducts.repositoryRoot + "/docs/openapi.yaml", encoding: .utf8)
        let spec = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(spec["paths"] as? [String: Any])
        var routes: Set<Route> = []
        for (path, item) in paths {
            let methods = try #require(item as? [String: Any])
            for method in methods.keys where method != "parameters" {
                routes.insert(Route(method: method.uppercased(), path: path))
            }
        }
        return routes
    }

    static func registeredRoutes() async throws -> Set<Route> {
        let dir = try TemporaryDirectory("oa")
        defer { dir.remove() }
        let core = try DaemonCore(config: DaemonConfig(libvirtURI: "test:///default", stateDirectory: dir.path),
                                  logger: Logger(label: "test"))
        defer { Task { try? await core.executor.shutdown() } }
        return Set(APIRoutes.router(core.areas).routes.map {
            // Hummingbird writes parameters as ':name'; OpenAPI as '{name}'.
            Route(method: $0.method.rawValue, path: "\($0.path)".replacing(/:(\w+)/) { "{\($0.1)}" })
        })
    }

    @Test func everyRouteIsInTheSpecAndViceVersa() async throws {
        let spec = try Self.specRoutes(), registered = try await Self.registeredRoutes()
        #expect(registered.count > 50)
        let undocumented = registered.subtracting(spec).map(\.description).sorted()
        let missing = spec.subtracting(registered).map(\.description).sorted()
        #expect(undocumented.isEmpty, "routes missing from docs/openapi.yaml: \(undocumented)")
        #expect(missing.isEmpty, "docs/openapi.yaml has routes vigild does not register: \(missing)")
    }

    /// docs/api.md names every path too (the prose beside the contract).
    @Test func apiMarkdownNamesEveryPath() throws {
        let text = try String(contentsOfFile: BuiltProducts.repositoryRoot + "/docs/api.md", encoding: .utf8)
        let paths = Set(try Self.specRoutes().map(\.path))
        let absent = paths.filter { !text.contains("`\($0)") && !text.contains(" \($0)`") && !text.contains("\($0)`") }.sorted()
        #expect(absent.isEmpty, "docs/api.md does not name \(absent)")
    }
}
