import Core
import Hummingbird

extension TemplateInfo: ResponseEncodable {}
extension TemplateList: ResponseEncodable {}

/// `/v1/templates…` (docs/api.md): long steps answer with an `OperationInfo`.
enum TemplateRoutes {
    static func add(to router: Router<BasicRequestContext>, _ templates: TemplateService) {
        router.get("/v1/templates") { _, _ in TemplateList(templates: try templates.templateList()) }
        router.post("/v1/templates") { request, context in
            try await templates.createTemplate(try await RequestBody.decode(TemplateCreateRequest.self, request, context, hint: "send {name, vm, convert?, description?}; see docs/api.md"))
        }
        router.post("/v1/templates/import") { request, context in
            try await templates.importTemplate(try await RequestBody.decode(TemplateFileRequest.self, request, context, hint: "send {path, name?}; see docs/api.md"), ova: false)
        }
        router.post("/v1/templates/import-ova") { request, context in
            try await templates.importTemplate(try await RequestBody.decode(TemplateFileRequest.self, request, context, hint: "send {path, name?, network?, virtType?}; see docs/api.md"), ova: true)
        }
        router.get("/v1/templates/:name") { _, context in
            try await templates.template(name: try context.parameters.decoded("name"))
        }
        router.patch("/v1/templates/:name") { request, context in
            try await templates.editTemplate(name: try context.parameters.decoded("name"),
                                           try await RequestBody.decode(TemplateEditRequest.self, request, context, hint: "send {vcpus?, memoryMiB?, description?, growDisks?}; see docs/api.md"))
        }
        router.delete("/v1/templates/:name") { _, context in
            try await templates.deleteTemplate(name: try context.parameters.decoded("name"))
        }
        router.post("/v1/templates/:name/deploy") { request, context in
            try await templates.deployTemplate(name: try context.parameters.decoded("name"),
                                             try await RequestBody.decode(TemplateDeployRequest.self, request, context, hint: "send {name, mode?, directory?, start?}; see docs/api.md"))
        }
        router.post("/v1/templates/:name/verify") { _, context in
            try await templates.verifyTemplate(name: try context.parameters.decoded("name"))
        }
        router.post("/v1/templates/:name/export") { request, context in
            try await templates.exportTemplate(name: try context.parameters.decoded("name"),
                                             to: try await RequestBody.decode(TemplateFileRequest.self, request, context, hint: "send {path}; see docs/api.md").path)
        }
    }
}
