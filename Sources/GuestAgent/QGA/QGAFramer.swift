/// Splits the QGA input stream into top-level JSON values without parsing
/// them: QGA has no line framing, so values end where the brace depth,
/// counted outside strings, returns to zero. Input is untrusted: buffering
/// is bounded and garbage is reported once, never fatal.
struct QGAFramer {
    enum Event: Equatable {
        /// The bytes of one complete top-level value, usually an object.
        case value([UInt8])
        /// A value grew past `maxSize` and was dropped whole.
        case oversized
        /// Bytes outside any object (not whitespace) were dropped.
        case garbage
    }

    /// Clients send 0xFF (never valid in UTF-8 JSON) to flush a partial object.
    static let resetByte: UInt8 = 0xFF

    let maxSize: Int
    private var buffer: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var discarding = false
    private var inGarbage = false

    init(maxSize: Int = 64 * 1024) { self.maxSize = maxSize }

    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if byte == Self.resetByte {
                reset()
                continue
            }
            if depth == 0 {
                scanBetweenValues(byte, into: &events)
            } else {
                scanInsideValue(byte, into: &events)
            }
        }
        return events
    }

    private mutating func scanBetweenValues(_ byte: UInt8, into events: inout [Event]) {
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            inGarbage = false
            depth = 1
            buffer = [byte]
        case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
            inGarbage = false
        default:
            // One error per run of junk, not one per byte.
            if !inGarbage { events.append(.garbage) }
            inGarbage = true
        }
    }

    private mutating func scanInsideValue(_ byte: UInt8, into events: inout [Event]) {
        if !discarding {
            buffer.append(byte)
            if buffer.count > maxSize {
                // Keep tracking depth so we resynchronise at the value's end.
                discarding = true
                buffer = []
            }
        }
        if inString {
            if escaped { escaped = false }
            else if byte == UInt8(ascii: "\\") { escaped = true }
            else if byte == UInt8(ascii: "\"") { inString = false }
            return
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
            if depth == 0 {
                events.append(discarding ? .oversized : .value(buffer))
                buffer = []
                discarding = false
            }
        default: break
        }
    }

    private mutating func reset() {
        buffer = []
        depth = 0
        inString = false
        escaped = false
        discarding = false
        inGarbage = false
    }
}
