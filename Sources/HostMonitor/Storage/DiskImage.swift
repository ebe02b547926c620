import Foundation
import Subprocess

/// Disk images through `qemu-img`, as libvirt's own tools do: it knows every
/// format, copies sparsely and reports progress. Runs as a child process
/// (swift-subprocess), killed when the calling task is cancelled; a journal
/// entry lets a restarted vigild stop one that outlived a killed vigild.
enum DiskImage {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `qemu-img info --output=json`, the fields Vigil uses.
    struct Info: Decodable, Sendable {
        var format: String
        var virtualSize: Int64
        var actualSize: Int64?
        var backingFilename: String?
        var fullBackingFilename: String?

        enum CodingKeys: String, CodingKey {
            case format
            case virtualSize = "virtual-size"
            case actualSize = "actual-size"
            case backingFilename = "backing-filename"
            case fullBackingFilename = "full-backing-filename"
        }

        /// The backing file as an absolute path, if any.
        var backing: String? { fullBackingFilename ?? backingFilename }
    }

    static func info(_ path: String) async throws -> Info {
        // -U: also works while a running VM holds the image's lock.
        let out = try await qemuImg(["info", "-U", "--output=json", path])
        do {
            return try JSONDecoder().decode(Info.self, from: Data(out.utf8))
        } catch {
            throw Failure(description: "qemu-img info \(path) gave unreadable output: \(error)")
        }
    }

    /// Every file in `path`'s backing chain, `path` first.
    static func backingChain(_ path: String) async throws -> [String] {
        struct Layer: Decodable { var filename: String }
        let out = try await qemuImg(["info", "-U", "--backing-chain", "--output=json", path])
        return try JSONDecoder().decode([Layer].self, from: Data(out.utf8)).map(\.filename)
    }

    static func create(_ path: String, sizeBytes: Int64, format: String = "qcow2") async throws {
        _ = try await qemuImg(["create", "-q", "-f", format, path, "\(sizeBytes)"])
    }

    /// A new empty qcow2 for a VM: never over an existing file, and nothing
    /// left behind when qemu-img fails.
    static func createNew(_ path: String, sizeBytes: Int64) async throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw APIError.conflict("\(path) already exists", hint: "choose another name or directory; Vigil never overwrites a disk")
        }
        do {
            try await create(path, sizeBytes: sizeBytes)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw APIError(.internalServerError, "\(error)", hint: "check free space and permissions")
        }
    }

    /// A qcow2 overlay whose reads fall through to `backing` (a linked
    /// clone's disk), `virtualSize` bytes big or the base's size if larger
    /// (0: the base's size).
    /// On qcow2 and raw bases it is written in-process (`QCOW2`), a
    /// hundredth of qemu-img's time; other formats go through qemu-img.
    static func createOverlay(_ path: String, backing: String, backingFormat: String, virtualSize: Int64 = 0) async throws {
        guard virtualSize > 0, ["qcow2", "raw"].contains(backingFormat) else {
            var args = ["create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backing, path]
            if virtualSize > 0 { args.append("\(virtualSize)") }
            _ = try await qemuImg(args)
            return
        }
        // What qemu-img checks first: the base is there and is what it is said to be.
        guard access(backing, R_OK) == 0 else {
            throw Failure(description: "cannot use \(backing) as a base: \(String(cString: strerror(errno)))")
        }
        var baseSize = FileFacts.size(backing)
        if backingFormat == "qcow2" {
            guard let h = try QCOW2.header(backing) else {
                throw Failure(description: "cannot use \(backing) as a qcow2 base: it is not a qcow2 image")
            }
            baseSize = h.virtualSize
        }
        // Never smaller than the base (a stale size must not hide its end).
        try QCOW2.createOverlay(path, backing: backing, backingFormat: backingFormat, virtualSize: max(virtualSize, baseSize))
    }

    static func resize(_ path: String, sizeBytes: Int64) async throws {
        _ = try await qemuImg(["resize", "-q", path, "\(sizeBytes)"])
    }

    /// Copies `source` (its whole backing chain, flattened) into a new
    /// independent image. `rateLimitMiBs` caps the copy's bandwidth so clones
    /// do not starve running VMs' I/O. `started` gets the child's pid (for
    /// the journal) before any data is written.
    static func convert(from source: String, to destination: String, sourceFormat: String? = nil,
                        targetFormat: String = "qcow2", rateLimitMiBs: Int? = nil,
                        started: @Sendable (Int32) throws -> Void = { _ in },
                        progress: @Sendable (Double) -> Void = { _ in }) async throws {
        var args = ["convert", "-p", "-O", targetFormat]
        if let sourceFormat { args += ["-f", sourceFormat] }
        // No -U: qemu-img holds the image's shared lock, so the source VM cannot start and write mid-copy.
        if let rateLimitMiBs, rateLimitMiBs > 0 { args += ["-r", "\(rateLimitMiBs)M"] }
        args += [source, destination]
        let result = try await run(.path("/usr/bin/qemu-img"), arguments: Arguments(args),
                                   input: .none, output: .sequence, error: .string(limit: 65_536)) { execution in
            try started(execution.processIdentifier.value)
            var parser = ProgressParser()
            for try await chunk in execution.standardOutput {
                let text = chunk.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
                if let p = parser.feed(text) { progress(p) }
            }
        }
        try check(result.terminationStatus, stderr: result.standardError, what: "copy \(source) to \(destination)")
    }

    /// Makes `path` read through `backing` (nil: stand alone) instead of its
    /// backing file now, copying in whatever differs so the guest sees the
    /// same data (qemu-img's safe rebase). The backing pointer changes last,
    /// so an interrupted rebase leaves `path` as it was, only larger: run
    /// again, it finishes. `started` gets the child's pid (for the journal).
    static func rebase(_ path: String, onto backing: String?, backingFormat: String?,
                       started: @Sendable (Int32) throws -> Void = { _ in },
                       progress: @Sendable (Double) -> Void = { _ in }) async throws {
        var args = ["rebase", "-p", "-f", "qcow2", "-b", backing ?? ""]
        if backing != nil, let backingFormat { args += ["-F", backingFormat] }
        args.append(path)
        let result = try await run(.path("/usr/bin/qemu-img"), arguments: Arguments(args),
                                   input: .none, output: .sequence, error: .string(limit: 65_536)) { execution in
            try started(execution.processIdentifier.value)
            var parser = ProgressParser()
            for try await chunk in execution.standardOutput {
                let text = chunk.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
                if let p = parser.feed(text) { progress(p) }
            }
        }
        try check(result.terminationStatus, stderr: result.standardError, what: "rebase \(path) onto \(backing ?? "nothing")")
    }

    /// Points `path`'s backing file at `reference` (relative to `path`'s
    /// directory) without reading either: the data stays as it is.
    static func setBacking(_ path: String, to reference: String, format: String = "qcow2") async throws {
        _ = try await qemuImg(["rebase", "-u", "-f", "qcow2", "-F", format, "-b", reference, path])
    }

    /// Runs qemu-img to completion and returns its standard output.
    private static func qemuImg(_ args: [String]) async throws -> String {
        let result = try await run(.path("/usr/bin/qemu-img"), arguments: Arguments(args),
                                   output: .string(limit: 1 << 20), error: .string(limit: 65_536))
        try check(result.terminationStatus, stderr: result.standardError, what: "qemu-img \(args.first ?? "")")
        return result.standardOutput
    }

    private static func check(_ status: TerminationStatus, stderr: String?, what: String) throws {
        guard status.isSuccess else {
            let message = (stderr ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(description: "could not \(what): \(message.isEmpty ? "\(status)" : message)")
        }
    }

    /// qemu-img -p writes "    (12.34/100%)\r" as it goes.
    struct ProgressParser {
        private var tail = ""

        /// The newest percentage that `text` completes, as a fraction.
        mutating func feed(_ text: String) -> Double? {
            tail = String((tail + text).suffix(64))
            guard let close = tail.range(of: "/100%)", options: .backwards),
                  let open = tail.range(of: "(", options: .backwards, range: tail.startIndex..<close.lowerBound) else { return nil }
            let value = Double(tail[open.upperBound..<close.lowerBound])
            tail = String(tail[close.upperBound...])
            return value.map { $0 / 100 }
        }
    }
}
