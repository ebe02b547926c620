import Core
import Hummingbird

extension VMSettingsDocument: ResponseEncodable {}

/// `/v1/vms/{vm}/settings` (docs/api.md).
enum SettingsRoutes {
    static func add(to router: Router<BasicRequestContext>, _ settings: SettingsService) {
        router.get("/v1/vms/:vm/settings") { _, context in
            try await settings.settings(vm: try context.parameters.decoded("vm"))
        }
        router.put("/v1/vms/:vm/settings") { request, context in
            let change = try await RequestBody.decode(VMSettingsDocument.self, request, context,
                                                      hint: "send any of displayName, description, ioWeight (100-1000), onCrash (restart, migrate, ignore), "
                                                            + "haEnabled, haPriority (high, medium, low), autoMigrate, timeSync, autoUpgrade (true or false)")
            return try await settings.setSettings(vm: try context.parameters.decoded("vm"), change)
        }
    }
}
