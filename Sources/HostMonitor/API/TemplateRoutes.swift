import Core
import Hummingbird

/// `/v1/templates…` (docs/api.md): long steps answer with an `OperationInfo`.
enum TemplateRoutes {
    static func add(to router: Router<BasicRequestContext>, monitor: MonitorService) {
        router.get("/v1/templates") { _, _ in TemplateList(templates: try monitor.templateList()) }
        router.post("/v1/templates") { request, context in
            try await monitor.createTemplate(try await RequestBody.decode(TemplateCreateRequest.self, request, context, hint: "send {name, vm, convert?, description?}; see docs/api.md"))
        }
        router.post("/v1/templates/import") { request, context in
            try await monitor.importTemplate(try await RequestBody.decode(TemplateFileRequest.self, request, context, hint: "send {path, name?}; see docs/api.md"), ova: false)
        }
        router.post("/v1/templates/import-ova") { request, context in
            try await monitor.importTemplate(try await RequestBody.decode(TemplateFileRequest.self, request, context, hint: "send {path, name?, network?, virtType?}; see docs/api.md"), ova: true)
        }
        router.get("/v1/templates/:name") { _, context in
            try await monitor.template(name: try context.parameters.decoded("name"))
        }
        router.patch("/v1/templates/:name") { request, context in
            try await monitor.editTemplate(name: try context.parameters.decoded("name"),
                                           try await RequestBody.decode(TemplateEditRequest.self, request, context, hint: "send {vcpus?, memoryMiB?, description?, growDisks?}; see docs/api.md"))
        }
        router.delete("/v1/templates/:name") { _, context in
            try await monitor.deleteTemplate(name: try context.parameters.decoded("name"))
        }
        router.post("/v1/templates/:name/deploy") { request, context in
            try await monitor.deployTemplate(name: try context.parameters.decoded("name"),
                                             try await RequestBody.decode(TemplateDeployRequest.self, request, context, hint: "send {name, mode?, directory?, start?}; see docs/api.md"))
        }
        router.post("/v1/templates/:name/verify") { _, context in
            try await monitor.verifyTemplate(name: try context.parameters.decoded("name"))
        }
        router.post("/v1/templates/:name/export") { request, context in
            try await monitor.exportTemplate(name: try context.parameters.decoded("name"),
                                             to: try await RequestBody.decode(TemplateFileRequest.self, request, context, hint: "send {path}; see docs/api.md").path)
        }
    }
}
