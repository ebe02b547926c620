import Core
import Foundation
import Libvirt

/// Templates in the API: checks up front (every problem at once), then the
/// long parts run as journalled operations.
struct TemplateService: Sendable {
    let host: HostContext
    let templates: TemplateLibrary
    let copier: DiskCopier
    /// Where deployed VMs' disks go unless the request names a directory.
    let vmDirectory: String

    func templateList() throws -> [TemplateInfo] { try templates.list() }

    /// One template, with the VMs on this host that are linked clones of it.
    func template(name: String) async throws -> TemplateInfo {
        var info = try templates.load(name)
        info.linkedClones = try await linkedClones(of: info)
        return info
    }

    /// VMs on this host whose disks have one of the template's images in their backing chain.
    func linkedClones(of info: TemplateInfo) async throws -> [String] {
        let conn = try host.connection()
        let bases = Set(info.disks.map { templates.diskPath(info.name, $0) })
        let domains = try await host.executor.run { () throws -> [(String, [String])] in
            try conn.domains().map { d in (d.name, try DomainDefinition(xml: try d.xml([.inactive])).disks.compactMap(\.path)) }
        }
        var users: [String] = []
        for (name, paths) in domains {
            for path in paths where !bases.contains(path) {
                if let chain = try? await DiskImage.backingChain(path), chain.contains(where: bases.contains) {
                    users.append(name)
                    break
                }
            }
        }
        return users
    }

    func createTemplate(_ r: TemplateCreateRequest) async throws -> OperationInfo {
        var problems = VMBuilder.nameProblems(r.name)
        if templates.exists(r.name) { problems.append("a template named '\(r.name)' already exists") }
        guard problems.isEmpty else {
            throw APIError.badRequest(problems.joined(separator: "; "), hint: "vigil template create NAME --from VM [--convert]")
        }
        try FileManager.default.createDirectory(atPath: templates.root, withIntermediateDirectories: true)
        let conn = try host.connection()
        let uri = host.uri
        var plan = try await host.executor.run { () throws -> TemplateMaker.Plan in
            let source = try conn.domain(nameOrUUID: r.vm)
            let state = try source.state().state
            let running = state == .running || state == .paused
            let hibernated = try source.hasManagedSaveImage
            if r.convert && (running || hibernated) {
                throw APIError.conflict("\(source.name) must be shut off to become a template (it is \(running ? "\(state)" : "hibernated"))",
                                        hint: "shut it down first, or copy it into a template without --convert")
            }
            let xml = try source.xml([.inactive, .secure])
            let def = try DomainDefinition(xml: xml)
            if !def.nonFileDisks.isEmpty {
                throw APIError.conflict("\(source.name) has disks that are not image files (\(def.nonFileDisks.joined(separator: ", ")))",
                                        hint: "Vigil templates hold file-backed disks only")
            }
            let disks = def.disks.filter(\.isOwned).compactMap { d -> DiskCopier.Copy? in
                d.path.map { DiskCopier.Copy(target: d.target, from: $0, format: d.format ?? "raw", to: "", virtualSize: 0) }
            }
            return TemplateMaker.Plan(request: r, source: source, uri: uri, running: running, definition: xml, disks: disks, mustCopy: [])
        }
        let missing = plan.disks.filter { !FileManager.default.fileExists(atPath: $0.from) }.map { "\($0.target) (\($0.from))" }
        guard missing.isEmpty else {
            throw APIError.conflict("\(plan.source.name)'s disk image is missing: \(missing.joined(separator: ", "))",
                                    hint: "restore the file or remove the disk from the VM, then try again")
        }
        for (i, d) in plan.disks.enumerated() {
            let info = try await DiskImage.info(d.from)
            plan.disks[i].virtualSize = info.virtualSize
            if info.backing != nil || info.format != "qcow2" { plan.mustCopy.insert(d.target) }
        }
        let ready = plan
        let maker = TemplateMaker(copier: copier, library: templates, events: host.events)
        return try await host.operations.start(kind: r.convert ? "template-convert" : "template-create", target: "\(plan.source.name) -> \(r.name)") { ctx in
            try await maker.perform(ready, ctx)
        }
    }

    func deployTemplate(name: String, _ r: TemplateDeployRequest) async throws -> OperationInfo {
        let template = try templates.load(name)
        let directory = r.directory ?? vmDirectory
        var problems = VMBuilder.nameProblems(r.name)
        if !FileFacts.isDirectory(directory) { problems.append("directory '\(directory)' does not exist (give an absolute path)") }
        for d in template.disks where FileManager.default.fileExists(atPath: directory + "/\(r.name)-\(d.target).qcow2") {
            problems.append("\(directory)/\(r.name)-\(d.target).qcow2 already exists")
        }
        let conn = try host.connection()
        if (try? await host.executor.run { try conn.domain(named: r.name) }) != nil {
            problems.append("a VM named '\(r.name)' already exists")
        }
        guard problems.isEmpty else {
            throw APIError.badRequest(problems.joined(separator: "; "), hint: "vigil template deploy TEMPLATE NEW [--linked] [--dir DIR]")
        }
        let deployer = TemplateDeployer(copier: copier, library: templates, events: host.events)
        let uri = host.uri
        return try await host.operations.start(kind: "template-deploy", target: "\(name) -> \(r.name)") { ctx in
            try await deployer.perform(template: template, r, directory: directory, on: conn, uri: uri, ctx)
        }
    }

    func verifyTemplate(name: String) async throws -> OperationInfo {
        let info = try templates.load(name)
        let library = templates, executor = host.executor
        return try await host.operations.start(kind: "template-verify", target: name) { ctx in
            let problems = try await library.verify(info, in: library.directory(name), ctx, range: 0...1, executor: executor)
            guard problems.isEmpty else {
                throw APIError.conflict("template \(name) is damaged: \(problems.joined(separator: "; "))",
                                        hint: "re-create or re-import it; deploys of it are refused")
            }
            return "intact: \(info.disks.count) disk(s) match their recorded SHA-256"
        }
    }

    /// CPU, memory and description change the definition; growing a disk
    /// changes its image and checksum (refused while linked clones use it).
    func editTemplate(name: String, _ r: TemplateEditRequest) async throws -> OperationInfo {
        var info = try templates.load(name)
        var problems: [String] = []
        if let v = r.vcpus, !(1...256).contains(v) { problems.append("vcpus must be 1 to 256, got \(v)") }
        if let m = r.memoryMiB, !(32...4_194_304).contains(m) { problems.append("memory must be 32 MiB to 4 TiB, got \(m) MiB") }
        for (target, size) in r.growDisks ?? [:] {
            guard let d = info.disks.first(where: { $0.target == target }) else {
                problems.append("the template has no disk \(target) (it has \(info.disks.map(\.target).joined(separator: ", ")))")
                continue
            }
            if Int64(size * 1_073_741_824) <= d.virtualSize {
                problems.append("\(target) can only grow: it is \(d.virtualSize >> 20) MiB, asked \(Int64(size * 1024)) MiB")
            }
        }
        for size in r.addDisks ?? [] where !(size > 0 && size <= 65_536) {
            problems.append("a new disk must be above 0 and at most 65536 GiB, got \(size)")
        }
        if info.disks.count + (r.addDisks?.count ?? 0) > 16 { problems.append("a template has at most 16 disks") }
        if r.growDisks?.isEmpty == false {
            let users = try await linkedClones(of: info)
            if !users.isEmpty {
                problems.append("its disks are the base of linked clones (\(users.joined(separator: ", "))); growing them would corrupt those VMs")
            }
        }
        guard problems.isEmpty else {
            throw APIError.badRequest(problems.joined(separator: "; "), hint: "vigil template edit NAME [--vcpus N] [--memory MiB] [--grow vda=GiB] [--add-disk GiB]")
        }
        let library = templates
        var def = try DomainDefinition(xml: try library.definition(name))
        if let v = r.vcpus { def.setVCPUs(v); info.vcpus = v }
        if let m = r.memoryMiB { def.setMemory(mib: m); info.memoryMiB = m }
        if let text = r.description { info.description = text }
        let xml = def.xml, executor = host.executor
        let edited = info
        return try await host.operations.start(kind: "template-edit", target: name) { ctx in
            var out = edited
            let dir = library.directory(name)
            for (target, size) in r.growDisks ?? [:] {
                guard let i = out.disks.firstIndex(where: { $0.target == target }) else { continue }
                let path = dir + "/" + out.disks[i].file
                // Grown in place (qemu-img resize only appends): checksum recomputed right after.
                chmod(path, 0o644)
                defer { chmod(path, 0o444) }
                try await DiskImage.resize(path, sizeBytes: Int64(size * 1_073_741_824))
                out.disks[i].virtualSize = try await DiskImage.info(path).virtualSize
            }
            var def = try DomainDefinition(xml: xml)
            var used = Set(def.disks.map(\.target))
            for size in r.addDisks ?? [] {
                guard let target = DiskTargets.free("vd", used: used) else { break }
                used.insert(target)
                let file = "\(target).qcow2", path = dir + "/" + file
                try ctx.willCreate(file: path)
                try await DiskImage.create(path, sizeBytes: Int64(size * 1_073_741_824))
                chmod(path, 0o444)
                try def.addDisk(target: target, path: path)
                out.disks.append(.init(target: target, file: file, format: "qcow2", virtualSize: Int64(size * 1_073_741_824), sha256: ""))
            }
            let changed = Set((r.growDisks?.keys.map { $0 } ?? []) + out.disks.filter { $0.sha256.isEmpty }.map(\.target))
            if !changed.isEmpty {
                // Only changed disks take new checksums: an untouched one that no longer matches stays caught.
                let fresh = try await library.withChecksums(out, in: dir, ctx, range: 0.1...0.95, executor: executor)
                for i in out.disks.indices where changed.contains(out.disks[i].target) { out.disks[i].sha256 = fresh.disks[i].sha256 }
            }
            try library.write(out, definition: def.xml, into: dir)
            return "\(name): \(out.vcpus) vCPU, \(out.memoryMiB) MiB, " + out.disks.map { "\($0.target) \($0.virtualSize >> 20) MiB" }.joined(separator: ", ")
        }
    }

    func deleteTemplate(name: String) async throws -> TemplateInfo {
        let info = try templates.load(name)
        let users = try await linkedClones(of: info)
        guard users.isEmpty else {
            throw APIError.conflict("template \(name) is the base of linked clones: \(users.joined(separator: ", "))",
                                    hint: "delete those VMs first, or keep the template")
        }
        try FileManager.default.removeItem(atPath: templates.directory(name))
        host.events.record(kind: "template", message: "template \(name) deleted")
        return info
    }

    func exportTemplate(name: String, to path: String) async throws -> OperationInfo {
        _ = try templates.load(name)
        guard path.hasPrefix("/"), FileFacts.isDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path) else {
            throw APIError.badRequest("'\(path)' is not an absolute path in an existing directory", hint: "give a path like /srv/export/web.vtpl")
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw APIError.conflict("\(path) already exists", hint: "Vigil does not overwrite files; choose another path")
        }
        let transfer = TemplateTransfer(copier: copier, library: templates, events: host.events)
        return try await host.operations.start(kind: "template-export", target: "\(name) -> \(path)") { ctx in
            try await transfer.export(name, to: path, ctx)
        }
    }

    func importTemplate(_ r: TemplateFileRequest, ova: Bool) async throws -> OperationInfo {
        guard r.path.hasPrefix("/"), FileManager.default.isReadableFile(atPath: r.path) else {
            throw APIError.badRequest("cannot read '\(r.path)' (give an absolute path on vigild's host)", hint: "check the path")
        }
        if let name = r.name {
            let problems = VMBuilder.nameProblems(name) + (templates.exists(name) ? ["a template named '\(name)' already exists"] : [])
            guard problems.isEmpty else { throw APIError.badRequest(problems.joined(separator: "; "), hint: "choose another --name") }
        }
        if let t = r.virtType, !["kvm", "qemu"].contains(t) {
            throw APIError.badRequest("virt type must be kvm or qemu, got '\(t)'", hint: "--virt-type kvm|qemu")
        }
        try FileManager.default.createDirectory(atPath: templates.root, withIntermediateDirectories: true)
        let transfer = TemplateTransfer(copier: copier, library: templates, events: host.events)
        return try await host.operations.start(kind: ova ? "ova-import" : "template-import", target: r.path) { ctx in
            ova ? try await transfer.importOVA(r, ctx) : try await transfer.importArchive(r.path, as: r.name, ctx)
        }
    }
}
