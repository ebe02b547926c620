/// Splits a byte stream into lines of at most `maxLineBytes`, and finds its
/// footing again after corruption: an over-long line is dropped up to its
/// newline, and a `syncByte` (0xFF, never valid in UTF-8 JSON) discards any
/// partial line before it, as qemu-guest-agent's guest-sync-delimited does.
public struct LineFramer: Sendable {
    public static let syncByte: UInt8 = 0xFF

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
        var out: [Output] = []
        for byte in bytes {
            switch byte {
            case Self.syncByte:
                let dropped = buffer.count + discardedCount
                if dropped > 0 || discarding { out.append(.resynced(discarded: dropped)) }
                buffer.removeAll(keepingCapacity: true)
                discarding = false
                discardedCount = 0
            case UInt8(ascii: "\n"):
                if discarding {
                    out.append(.oversized(bytes: discardedCount))
                    discarding = false
                    discardedCount = 0
                } else {
                    if buffer.last == UInt8(ascii: "\r") { buffer.removeLast() }
                    if !buffer.isEmpty { out.append(.line(buffer)) }
                    buffer.removeAll(keepingCapacity: true)
                }
            default:
                if discarding {
                    discardedCount += 1
                } else if buffer.count >= maxLineBytes {
                    discarding = true
                    discardedCount = buffer.count + 1
                    buffer.removeAll(keepingCapacity: false)
                } else {
                    buffer.append(byte)
                }
            }
        }
        return out
    }
}
