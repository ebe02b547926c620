import Core
import Hummingbird

extension HardwareReport: ResponseEncodable {}
extension HardwareChangeResult: ResponseEncodable {}

/// `/v1/vms/{vm}/hardware…`: vCPUs, memory, disks and NICs (see docs/api.md).
enum HardwareRoutes {
    static func add(to router: Router<BasicRequestContext>, _ hardware: HardwareService) {
        router.get("/v1/vms/:vm/hardware") { _, context in
            try await hardware.hardware(vm: try context.parameters.decoded("vm"))
        }
        router.put("/v1/vms/:vm/hardware/cpu") { request, context in
            let body = try await RequestBody.decode(CPUChangeRequest.self, request, context, hint: "send {\"vcpus\": N, \"max\": M, \"nextBoot\": bool}; see docs/api.md")
            return try await hardware.changeCPU(vm: try context.parameters.decoded("vm"), body)
        }
        router.put("/v1/vms/:vm/hardware/memory") { request, context in
            let body = try await RequestBody.decode(MemoryChangeRequest.self, request, context, hint: "send {\"mib\": N, \"maxMiB\": M, \"nextBoot\": bool}; see docs/api.md")
            return try await hardware.changeMemory(vm: try context.parameters.decoded("vm"), body)
        }
        router.post("/v1/vms/:vm/hardware/disks") { request, context in
            let body = try await RequestBody.decode(DiskAddRequest.self, request, context, hint: "send {\"sizeMiB\": N, \"directory\": \"/abs/dir\" or \"pool\": NAME, \"bus\": \"virtio\", \"nextBoot\": bool}; see docs/api.md")
            return try await hardware.addDisk(vm: try context.parameters.decoded("vm"), body)
        }
        router.delete("/v1/vms/:vm/hardware/disks/:target") { request, context in
            let q = request.uri.queryParameters
            return try await hardware.removeDisk(vm: try context.parameters.decoded("vm"), target: try context.parameters.decoded("target"),
                                                nextBoot: flag(q.get("nextBoot")), deleteFile: flag(q.get("deleteFile")))
        }
        router.post("/v1/vms/:vm/hardware/disks/:target/grow") { request, context in
            let body = try await RequestBody.decode(DiskGrowRequest.self, request, context, hint: "send {\"sizeMiB\": N} (the new total size); see docs/api.md")
            return try await hardware.growDisk(vm: try context.parameters.decoded("vm"), target: try context.parameters.decoded("target"), body)
        }
        router.post("/v1/vms/:vm/hardware/nics") { request, context in
            let body = try await RequestBody.decode(NICAddRequest.self, request, context, hint: "send {\"kind\": \"user|network|bridge\", \"source\": NAME, \"mac\": MAC, \"model\": \"virtio\", \"nextBoot\": bool}; see docs/api.md")
            return try await hardware.addNIC(vm: try context.parameters.decoded("vm"), body)
        }
        router.delete("/v1/vms/:vm/hardware/nics/:mac") { request, context in
            try await hardware.removeNIC(vm: try context.parameters.decoded("vm"), mac: try context.parameters.decoded("mac"),
                                        nextBoot: flag(request.uri.queryParameters.get("nextBoot")))
        }
    }

    private static func flag(_ value: String?) -> Bool { ["1", "true", "yes"].contains(value ?? "") }
}
