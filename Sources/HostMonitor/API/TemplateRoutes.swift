import Core
import Hummingbird

/// `/v1/templates…` (docs/api.md): long steps answer with an `OperationInfo`.
enum TemplateRoutes {
    static func body<T: Decodable>(_ type: T.Type, _ request: Request, _ context: BasicRequestContext, _ shape: String) async throws -> T {
        do {
            return try await request.decode(as: type, context: context)
        } catch {
            throw APIError.badRequest("the body is not \(shape): \(error)", hint: "see docs/api.md")
        }
    }

    static func add(to router: Router<BasicRequestContext>, monitor: MonitorService) {
        router.get("/v1/templates") { _, _ in TemplateList(templates: try monitor.templateList()) }
        router.post("/v1/templates") { request, context in
            try await monitor.createTemplate(try await body(TemplateCreateRequest.self, request, context, "{name, vm, convert?, description?}"))
        }
        router.post("/v1/templates/import") { request, context in
            try await monitor.importTemplate(try await body(TemplateFileRequest.self, request, context, "{path, name?}"), ova: false)
        }
        router.post("/v1/templates/import-ova") { request, context in
            try await monitor.importTemplate(try await body(TemplateFileRequest.self, request, context, "{path, name?, network?, virtType?}"), ova: true)
        }
        router.get("/v1/templates/:name") { _, context in
            try await monitor.template(name: try context.parameters.require("name"))
        }
        router.patch("/v1/templates/:name") { request, context in
            try await monitor.editTemplate(name: try context.parameters.require("name"),
                                           try await body(TemplateEditRequest.self, request, context, "{vcpus?, memoryMiB?, description?, growDisks?}"))
        }
        router.delete("/v1/templates/:name") { _, context in
            try await monitor.deleteTemplate(name: try context.parameters.require("name"))
        }
        router.post("/v1/templates/:name/deploy") { request, context in
            try await monitor.deployTemplate(name: try context.parameters.require("name"),
                                             try await body(TemplateDeployRequest.self, request, context, "{name, mode?, directory?, start?}"))
        }
        router.post("/v1/templates/:name/verify") { _, context in
            try await monitor.verifyTemplate(name: try context.parameters.require("name"))
        }
        router.post("/v1/templates/:name/export") { request, context in
            try await monitor.exportTemplate(name: try context.parameters.require("name"),
                                             to: try await body(TemplateFileRequest.self, request, context, "{path}").path)
        }
    }
}
