#if canImport(Glibc)
import Glibc
#endif

/// Splits a byte stream into lines of at most `maxLineBytes`, and finds its
/// footing again after corruption: an over-long line is dropped up to its
/// newline, and a `syncByte` (0xFF, never valid in UTF-8 JSON) discards any
/// partial line before it, as qemu-guest-agent's guest-sync-delimited does.
/// Scans with memchr so a hostile gigabyte-long line costs little CPU.
public struct LineFramer: Sendable {
    public static let syncByte: UInt8 = 0xFF
    static let newline = UInt8(ascii: "\n")

    public enum Output: Equatable, Sendable {
        case line([UInt8])
        /// A line was longer than the limit and was dropped (`bytes` seen).
        case oversized(bytes: Int)
        /// A sync byte reset the stream, dropping `discarded` partial bytes.
        case resynced(discarded: Int)
    }

    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var discarding = false
    private var discardedCount = 0

    public init(maxLineBytes: Int = AgentProtocol.maxLineBytes) {
        self.maxLineBytes = maxLineBytes
    }

    /// Feeds bytes and returns what they complete, in order.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [Output] where Bytes.Element == UInt8 {
        if let out = bytes.withContiguousStorageIfAvailable({ feed(buffer: $0) }) { return out }
        let copy = Array(bytes)
        return copy.withUnsafeBufferPointer { feed(buffer: $0) }
    }

    private mutating func feed(buffer chunk: UnsafeBufferPointer<UInt8>) -> [Output] {
        var out: [Output] = []
        guard let base = chunk.baseAddress else { return out }
        var i = 0
        let n = chunk.count
        while i < n {
            let (special, at) = Self.nextSpecial(base + i, count: n - i)
            let end = at.map { i + $0 } ?? n
            append(chunk, from: i, to: end)
            guard let special else { break }
            if special == Self.syncByte {
                let dropped = buffer.count + discardedCount
                if dropped > 0 || discarding { out.append(.resynced(discarded: dropped)) }
                reset()
            } else if discarding {
                out.append(.oversized(bytes: discardedCount))
                reset()
            } else {
                if buffer.last == UInt8(ascii: "\r") { buffer.removeLast() }
                if !buffer.isEmpty { out.append(.line(buffer)) }
                buffer.removeAll(keepingCapacity: true)
            }
            i = end + 1
        }
        return out
    }

    /// Adds ordinary bytes to the current line, switching to discarding
    /// once the line passes the limit.
    private mutating func append(_ chunk: UnsafeBufferPointer<UInt8>, from: Int, to: Int) {
        guard to > from else { return }
        if discarding {
            discardedCount += to - from
        } else if buffer.count + (to - from) > maxLineBytes {
            discarding = true
            discardedCount = buffer.count + (to - from)
            buffer.removeAll(keepingCapacity: false)
        } else {
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[from..<to]))
        }
    }

    private mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        discarding = false
        discardedCount = 0
    }

    /// The first newline or sync byte in `p[0..<count]` and its offset.
    private static func nextSpecial(_ p: UnsafePointer<UInt8>, count: Int) -> (UInt8?, Int?) {
        let nl = memchr(p, Int32(newline), count).map { UnsafeRawPointer($0) - UnsafeRawPointer(p) }
        let limit = nl ?? count
        let sync = memchr(p, Int32(syncByte), limit).map { UnsafeRawPointer($0) - UnsafeRawPointer(p) }
        if let sync { return (syncByte, sync) }
        if let nl { return (newline, nl) }
        return (nil, nil)
    }
}
