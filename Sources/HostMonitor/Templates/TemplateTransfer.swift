import Core
import Crypto
import Foundation

/// Moving templates in and out of vigild as files: export to a tar archive,
/// import one (checked, checksums verified), and import an OVA (OVF
/// descriptor turned into a domain, VMDK disks converted to qcow2).
/// Everything lands in a staging directory first and is renamed into
/// place only when complete.
struct TemplateTransfer: Sendable {
    let copier: DiskCopier
    let library: TemplateLibrary
    let events: EventLog

    func export(_ name: String, to path: String, _ ctx: OperationContext) async throws -> String {
        let info = try library.load(name)
        let dir = library.directory(name)
        let problems = try await library.verify(info, in: dir, ctx, range: 0...0.3, executor: copier.executor)
        guard problems.isEmpty else {
            throw APIError.conflict("template \(name) failed its integrity check: \(problems.joined(separator: "; "))",
                                    hint: "re-create the template; a corrupt one is not exported")
        }
        let partial = path + ".partial"
        try ctx.willCreate(file: partial)
        let total = info.disks.reduce(Int64(0)) { $0 + FileFacts.size(dir + "/" + $1.file) }
        try await TarArchive.create(partial, from: library.root, name: name, expectedBytes: total) { p in
            ctx.progress(0.3 + 0.69 * p, "writing \(URL(fileURLWithPath: path).lastPathComponent)")
        }
        try ctx.checkCancelled()
        try ctx.willCreate(file: path)
        try FileManager.default.moveItem(atPath: partial, toPath: path)
        events.record(kind: "template", message: "template \(name) exported to \(path)")
        return path
    }

    func importArchive(_ path: String, as requested: String?, _ ctx: OperationContext) async throws -> String {
        let members = try await TarArchive.members(path)
        try TarArchive.check(members, allowDirectories: true)
        let tops = Set(members.compactMap { $0.name.split(separator: "/").first.map(String.init) })
        guard tops.count == 1, let top = tops.first else {
            throw APIError.badRequest("\(path) is not a Vigil template archive (it must hold one directory)",
                                      hint: "make archives with 'vigil template export'")
        }
        let staging = library.stagingDirectory(ctx.id)
        try ctx.willCreate(file: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        ctx.progress(0.05, "unpacking")
        try await TarArchive.extract(path, into: staging)
        let unpacked = staging + "/" + top
        guard let data = FileManager.default.contents(atPath: unpacked + "/" + TemplateLibrary.manifestFile) else {
            throw APIError.badRequest("\(path) has no \(TemplateLibrary.manifestFile)", hint: "make archives with 'vigil template export'")
        }
        var info = try TemplateLibrary.decodeManifest(data)
        if library.exists(requested ?? info.name) {
            throw APIError.conflict("a template named '\(requested ?? info.name)' already exists", hint: "import under another name with --name")
        }
        _ = try DomainDefinition(xml: String(decoding: FileManager.default.contents(atPath: unpacked + "/" + TemplateLibrary.domainFile) ?? Data(), as: UTF8.self))
        let problems = try await library.verify(info, in: unpacked, ctx, range: 0.4...0.95, executor: copier.executor)
        guard problems.isEmpty else {
            throw APIError.conflict("\(path) is damaged: \(problems.joined(separator: "; "))", hint: "export the template again")
        }
        info.name = requested ?? info.name
        try commit(info, definition: try String(contentsOfFile: unpacked + "/" + TemplateLibrary.domainFile, encoding: .utf8),
                   from: unpacked, staging: staging, ctx)
        events.record(kind: "template", message: "template \(info.name) imported from \(path)")
        return info.name
    }

    func importOVA(_ r: TemplateFileRequest, _ ctx: OperationContext) async throws -> String {
        let members = try await TarArchive.members(r.path)
        try TarArchive.check(members, allowDirectories: false)
        guard let ovfName = members.first(where: { $0.name.lowercased().hasSuffix(".ovf") })?.name else {
            throw APIError.badRequest("\(r.path) holds no .ovf descriptor", hint: "give an OVA (a tar with an .ovf, its disks and optionally a .mf)")
        }
        let staging = library.stagingDirectory(ctx.id)
        let unpacked = staging + "-ova"
        try ctx.willCreate(file: staging)
        try ctx.willCreate(file: unpacked)
        for dir in [staging, unpacked] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(atPath: unpacked) }
        ctx.progress(0.02, "unpacking")
        try await TarArchive.extract(r.path, into: unpacked)
        let ovf: OVFEnvelope
        do {
            ovf = try OVFEnvelope(xml: try String(contentsOfFile: unpacked + "/" + ovfName, encoding: .utf8))
        } catch {
            throw APIError.badRequest("cannot import \(r.path): \(error)", hint: "check the OVA with its producer's tools")
        }
        try checkManifest(members: members, in: unpacked)
        let name = r.name ?? ovf.name
        guard VMBuilder.nameProblems(name).isEmpty else {
            throw APIError.badRequest("the OVF's name '\(name)' cannot name a template", hint: "give one with --name")
        }
        var copies: [DiskCopier.Copy] = []
        for (i, d) in ovf.disks.enumerated() {
            let src = unpacked + "/" + d.file
            guard FileManager.default.fileExists(atPath: src) else {
                throw APIError.badRequest("the OVA lacks \(d.file), which its OVF uses", hint: "the OVA is incomplete")
            }
            let info = try await DiskImage.info(src)
            guard let target = DiskTargets.virtio(i) else {
                throw APIError.badRequest("the OVF has \(ovf.disks.count) disks; Vigil names at most 26 virtio disks (vda-vdz)", hint: "split the appliance's disks")
            }
            copies.append(.init(target: target, from: src, format: info.format, to: staging + "/\(target).qcow2", virtualSize: info.virtualSize))
        }
        try await copier.copy(copies, ctx, range: 0.05...0.8)
        let final = library.directory(name)
        let create = VMCreateRequest(name: name, vcpus: ovf.vcpus, memoryMiB: ovf.memoryMiB, disks: [],
                                     nics: Array(repeating: r.network.map { .init(kind: "network", source: $0) } ?? .init(kind: "user"), count: ovf.nics),
                                     boot: ["hd"], virtType: r.virtType, start: false)
        let xml = VMBuilder.xml(create, diskPaths: copies.map { final + "/" + URL(fileURLWithPath: $0.to).lastPathComponent })
        var info = TemplateInfo(name: name, created: Date().timeIntervalSince1970, source: URL(fileURLWithPath: r.path).lastPathComponent,
                                vcpus: ovf.vcpus, memoryMiB: ovf.memoryMiB,
                                disks: copies.map { .init(target: $0.target, file: URL(fileURLWithPath: $0.to).lastPathComponent,
                                                          format: "qcow2", virtualSize: $0.virtualSize, sha256: "") })
        for d in copies { chmod(d.to, 0o444) }
        info = try await library.withChecksums(info, in: staging, ctx, range: 0.8...0.98, executor: copier.executor)
        try commit(info, definition: xml, from: staging, staging: staging, ctx)
        events.record(kind: "template", message: "template \(name) imported from OVA \(r.path)")
        return name
    }

    /// An OVA's .mf lists "SHA256(file)= hex" (or SHA1): every listed file must match.
    private func checkManifest(members: [TarArchive.Member], in dir: String) throws {
        guard let mf = members.first(where: { $0.name.lowercased().hasSuffix(".mf") }),
              let text = try? String(contentsOfFile: dir + "/" + mf.name, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            guard let open = line.firstIndex(of: "("), let close = line.firstIndex(of: ")"), open < close,
                  let eq = line.range(of: "=", range: close..<line.endIndex) else { continue }
            let algorithm = line[..<open].uppercased(), file = String(line[line.index(after: open)..<close])
            let expected = line[eq.upperBound...].trimmingCharacters(in: .whitespaces).lowercased()
            guard !file.contains("/"), members.contains(where: { $0.name == file }) else {
                throw APIError.badRequest("the OVA manifest lists '\(file)', which the OVA does not hold", hint: "the OVA is damaged")
            }
            let path = dir + "/" + file
            let actual: String
            switch algorithm {
            case "SHA256": actual = try FileDigest.hex(SHA256.self, path)
            case "SHA1": actual = try FileDigest.hex(Insecure.SHA1.self, path)
            default: continue
            }
            guard actual == expected else {
                throw APIError.badRequest("\(file) does not match the OVA manifest's \(algorithm) checksum", hint: "the OVA is damaged or was altered")
            }
        }
    }

    /// Renames a complete template directory into place.
    private func commit(_ info: TemplateInfo, definition: String, from dir: String, staging: String, _ ctx: OperationContext) throws {
        guard VMBuilder.nameProblems(info.name).isEmpty else {
            throw APIError.badRequest("'\(info.name)' cannot name a template", hint: "give another name with --name")
        }
        guard !library.exists(info.name) else {
            throw APIError.conflict("a template named '\(info.name)' already exists", hint: "import under another name with --name")
        }
        try library.write(info, definition: definition, into: dir)
        try ctx.checkCancelled()
        let final = library.directory(info.name)
        try ctx.willDo(.moveBack(from: final, to: dir))
        try FileManager.default.moveItem(atPath: dir, toPath: final)
        if dir != staging { try? FileManager.default.removeItem(atPath: staging) }
    }
}
