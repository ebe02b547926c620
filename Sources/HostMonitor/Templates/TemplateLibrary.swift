import Core
import Foundation

/// Templates on disk: one directory per template under `root` (put it on
/// shared storage and every cluster host sees the same templates), holding
/// `template.json` (the manifest with checksums), `domain.xml` and the
/// read-only disk images. A template being made lives in `.partial-<id>`
/// until it is complete; renaming it into place is the commit.
struct TemplateLibrary: Sendable {
    static let manifestFile = "template.json"
    static let domainFile = "domain.xml"

    let root: String

    func directory(_ name: String) -> String { root + "/" + name }
    func stagingDirectory(_ operationID: String) -> String { root + "/.partial-" + operationID }
    func diskPath(_ name: String, _ disk: TemplateInfo.Disk) -> String { directory(name) + "/" + disk.file }

    func list() throws -> [TemplateInfo] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().compactMap { try? load($0) }
    }

    func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: directory(name))
    }

    func load(_ name: String) throws -> TemplateInfo {
        guard VMBuilder.nameProblems(name).isEmpty,
              let data = FileManager.default.contents(atPath: directory(name) + "/" + Self.manifestFile) else {
            throw APIError.notFound("no template named '\(name)'", hint: "list templates with 'vigil template list'")
        }
        do {
            return try Self.decodeManifest(data)
        } catch {
            throw APIError(.internalServerError, "template '\(name)' has an unreadable manifest: \(error)",
                           hint: "re-create or re-import the template")
        }
    }

    func definition(_ name: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: directory(name) + "/" + Self.domainFile) else {
            throw APIError(.internalServerError, "template '\(name)' has no domain.xml", hint: "re-create or re-import the template")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes the manifest and definition into `dir` (each atomically).
    func write(_ info: TemplateInfo, definition: String, into dir: String) throws {
        var stored = info
        stored.linkedClones = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(stored).write(to: URL(fileURLWithPath: dir + "/" + Self.manifestFile), options: .atomic)
        try Data(definition.utf8).write(to: URL(fileURLWithPath: dir + "/" + Self.domainFile), options: .atomic)
    }

    static func decodeManifest(_ data: Data) throws -> TemplateInfo {
        let info = try JSONDecoder().decode(TemplateInfo.self, from: data)
        // Manifests come from files (imports): their names must stay inside the directory.
        for d in info.disks where d.file.contains("/") || d.file.hasPrefix(".") || d.file.isEmpty {
            throw DiskImage.Failure(description: "disk file name '\(d.file)' is not a plain file name")
        }
        return info
    }

    /// SHA-256 of each disk image in `dir`, read in turn (nil for a missing
    /// file), reporting progress within `range` as "`verb` vda".
    func digests(_ info: TemplateInfo, in dir: String, _ ctx: OperationContext?, range: ClosedRange<Double>,
                 executor: BlockingExecutor, verb: String) async throws -> [String?] {
        let total = Double(max(info.disks.reduce(Int64(0)) { $0 + FileFacts.size(dir + "/" + $1.file) }, 1))
        var done = 0.0
        var sums: [String?] = []
        for d in info.disks {
            let path = dir + "/" + d.file
            guard FileManager.default.fileExists(atPath: path) else {
                sums.append(nil)
                continue
            }
            let base = done
            sums.append(try await executor.run {
                try FileDigest.sha256(path, cancelled: { ctx?.isCancelled ?? false }) { bytes in
                    ctx?.progress(range.lowerBound + (base + Double(bytes)) / total * (range.upperBound - range.lowerBound),
                                  "\(verb) \(d.target)")
                }
            })
            done += Double(FileFacts.size(path))
        }
        return sums
    }

    /// Checks each image against the manifest's checksum; returns the
    /// mismatches as readable lines (empty: intact).
    func verify(_ info: TemplateInfo, in dir: String, _ ctx: OperationContext?, range: ClosedRange<Double>,
                executor: BlockingExecutor) async throws -> [String] {
        let sums = try await digests(info, in: dir, ctx, range: range, executor: executor, verb: "verifying")
        return zip(info.disks, sums).compactMap { d, actual in
            guard let actual else { return "\(d.target): \(d.file) is missing" }
            return actual == d.sha256 ? nil : "\(d.target): checksum \(actual.prefix(16))… differs from the recorded \(d.sha256.prefix(16))…"
        }
    }

    /// `info` with each disk's SHA-256 read back from the files as stored.
    func withChecksums(_ info: TemplateInfo, in dir: String, _ ctx: OperationContext, range: ClosedRange<Double>,
                       executor: BlockingExecutor) async throws -> TemplateInfo {
        var out = info
        for (i, sum) in try await digests(info, in: dir, ctx, range: range, executor: executor, verb: "checksumming").enumerated() {
            guard let sum else { throw DiskImage.Failure(description: "cannot read \(dir)/\(info.disks[i].file): it is missing") }
            out.disks[i].sha256 = sum
        }
        return out
    }
}
