import Foundation

/// The two qcow2 facts a linked clone needs, done in-process: reading an
/// image's header, and writing an empty overlay on a backing file. An empty
/// overlay is a header and three zeroed tables (QEMU's docs/interop/qcow2.txt),
/// laid out as `qemu-img create -b` lays it out; writing it here instead of
/// starting qemu-img is what makes a linked clone as fast as the overlay
/// itself. Everything else about images stays with qemu-img (`DiskImage`).
enum QCOW2 {
    static let magic: UInt32 = 0x5146_49FB  // "QFI\xfb"
    static let backingFormatExtension: UInt32 = 0xE279_2ACA
    /// 64 KiB, qemu-img's default.
    static let clusterBits = 16

    struct Header: Equatable, Sendable {
        var version: UInt32
        var virtualSize: Int64
        var clusterBits: Int
        var l1Size: Int
        var l1Offset: Int64
        var snapshots: Int
        var incompatibleFeatures: UInt64
        var backingFile: String?
        var backingFormat: String?
    }

    /// Reads `path`'s header; nil when the file is not qcow2.
    static func header(_ path: String) throws -> Header? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot read", path) }
        defer { close(fd) }
        let head = try readAt(fd, offset: 0, count: 4096, path)
        return try header(head) { offset, count in try readAt(fd, offset: offset, count: count, path) }
    }

    /// The header in an image's first 4 KiB, `head`; `read(offset, count)`
    /// fetches a backing file name that lies past them. Nil when not qcow2.
    static func header(_ head: [UInt8], read: (_ offset: Int64, _ count: Int) throws -> [UInt8]) rethrows -> Header? {
        guard head.count >= 104, head.u32(0) == magic else { return nil }
        let version = head.u32(4)
        let headerLength = version >= 3 ? Int(head.u32(100)) : 72
        var h = Header(version: version, virtualSize: Int64(bitPattern: head.u64(24)), clusterBits: Int(head.u32(20)),
                       l1Size: Int(head.u32(36)), l1Offset: Int64(bitPattern: head.u64(40)), snapshots: Int(head.u32(60)),
                       incompatibleFeatures: version >= 3 ? head.u64(72) : 0)
        let backingOffset = Int(clamping: head.u64(8)), backingLength = Int(head.u32(16))
        // The name lies in the first cluster (at most 2 MiB); anything else is not an image to trust.
        if backingOffset > 0, backingOffset < 1 << 21, backingLength > 0, backingLength <= 1023 {
            let name = backingOffset + backingLength <= head.count
                ? Array(head[backingOffset..<backingOffset + backingLength])
                : try read(Int64(backingOffset), backingLength)
            h.backingFile = String(decoding: name, as: UTF8.self)
        }
        // Header extensions: (type, length, data padded to 8) until type 0.
        var at = headerLength
        while at + 8 <= head.count {
            let type = head.u32(at), length = Int(head.u32(at + 4))
            guard type != 0, at + 8 + length <= head.count else { break }
            if type == backingFormatExtension {
                h.backingFormat = String(decoding: head[at + 8..<at + 8 + length], as: UTF8.self)
            }
            at += 8 + (length + 7) / 8 * 8
        }
        return h
    }

    /// Whether the image holds no data of its own: every read falls through
    /// to its backing file. Conservative: unknown features count as data.
    static func isEmpty(_ path: String, _ h: Header) throws -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot read", path) }
        defer { close(fd) }
        return try isEmpty(h) { offset, count in try readAt(fd, offset: offset, count: count, path) }
    }

    /// `isEmpty` over `read(offset, count)` (the image's bytes from `offset`, short at its end).
    static func isEmpty(_ h: Header, read: (_ offset: Int64, _ count: Int) throws -> [UInt8]) rethrows -> Bool {
        guard h.snapshots == 0, h.incompatibleFeatures == 0, h.l1Size >= 0, h.l1Size <= 4 << 20 else { return false }
        let l1 = try read(h.l1Offset, h.l1Size * 8)
        return l1.count == h.l1Size * 8 && l1.allSatisfy { $0 == 0 }
    }

    /// A new, empty qcow2 (v3) at `path` whose reads fall through to
    /// `backing`. Never over an existing file; synced before it returns, as
    /// qemu-img does; removed again if anything fails.
    static func createOverlay(_ path: String, backing: String, backingFormat: String, virtualSize: Int64) throws {
        let name = Array(backing.utf8), format = Array(backingFormat.utf8)
        let cluster = 1 << clusterBits
        let headerLength = 112
        let extensions = 8 + (format.count + 7) / 8 * 8 + 8  // backing format, then the end marker
        guard !name.isEmpty, name.count <= 1023, headerLength + extensions + name.count <= cluster, virtualSize > 0 else {
            throw DiskImage.Failure(description: "cannot make an overlay of \(backing) at \(path): unsupported name or size")
        }
        // One L2 table maps cluster/8 clusters.
        let l2Span = Int64(cluster) * Int64(cluster / 8)
        let l1Size = Int((virtualSize + l2Span - 1) / l2Span)
        let refcountTable = Int64(cluster), refcountBlock = Int64(2 * cluster), l1Table = Int64(3 * cluster)

        var head = [UInt8](repeating: 0, count: headerLength + extensions + name.count)
        head.put32(magic, at: 0)
        head.put32(3, at: 4)
        head.put64(UInt64(headerLength + extensions), at: 8)
        head.put32(UInt32(name.count), at: 16)
        head.put32(UInt32(clusterBits), at: 20)
        head.put64(UInt64(virtualSize), at: 24)
        head.put32(UInt32(l1Size), at: 36)
        head.put64(UInt64(l1Table), at: 40)
        head.put64(UInt64(refcountTable), at: 48)
        head.put32(1, at: 56)  // refcount table clusters
        head.put32(4, at: 96)  // refcount order: 16-bit refcounts
        head.put32(UInt32(headerLength), at: 100)
        head.put32(backingFormatExtension, at: headerLength)
        head.put32(UInt32(format.count), at: headerLength + 4)
        head.replaceSubrange(headerLength + 8..<headerLength + 8 + format.count, with: format)
        head.replaceSubrange(headerLength + extensions..<head.count, with: name)
        var table = [UInt8](repeating: 0, count: 8)
        table.put64(UInt64(refcountBlock), at: 0)
        // Clusters 0–3 (header, refcount table, refcount block, L1) are in use once each.
        var block = [UInt8](repeating: 0, count: 8)
        for i in 0..<4 { block[2 * i + 1] = 1 }

        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create", path) }
        do {
            defer { close(fd) }
            try writeAt(fd, head, offset: 0, path)
            try writeAt(fd, table, offset: refcountTable, path)
            try writeAt(fd, block, offset: refcountBlock, path)
            // The L1 table is all zeros: extending the file writes it.
            guard ftruncate(fd, off_t(l1Table + Int64(l1Size * 8))) == 0, fsync(fd) == 0 else { throw failure("cannot write", path) }
        } catch {
            unlink(path)
            throw error
        }
    }

    private static func failure(_ what: String, _ path: String) -> DiskImage.Failure {
        DiskImage.Failure(description: "\(what) \(path): \(String(cString: strerror(errno)))")
    }

    private static func readAt(_ fd: Int32, offset: Int64, count: Int, _ path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            // Sound: reads at most count - done bytes into the buffer's remaining tail.
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress.map { $0 + done }, count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure("cannot read", path) }
            if n == 0 { break }
            done += n
        }
        return Array(bytes[0..<done])
    }

    private static func writeAt(_ fd: Int32, _ bytes: [UInt8], offset: Int64, _ path: String) throws {
        var done = 0
        while done < bytes.count {
            // Sound: writes the buffer's remaining tail, bytes.count - done bytes.
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress.map { $0 + done }, bytes.count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw failure("cannot write", path) }
            done += n
        }
    }
}

private extension [UInt8] {
    func u32(_ at: Int) -> UInt32 { self[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
    func u64(_ at: Int) -> UInt64 { self[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func put32(_ v: UInt32, at: Int) { for i in 0..<4 { self[at + i] = UInt8(truncatingIfNeeded: v >> (24 - 8 * i)) } }
    mutating func put64(_ v: UInt64, at: Int) { for i in 0..<8 { self[at + i] = UInt8(truncatingIfNeeded: v >> (56 - 8 * i)) } }
}
