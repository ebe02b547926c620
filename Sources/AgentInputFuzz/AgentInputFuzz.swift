#if !FUZZING
import Core
#endif

// Fuzz target for the host-side parser of the agent channel: whatever bytes a
// guest writes go through LineFramer and AgentCodec, which must never crash,
// hang or return a line over the limit.
//
// Built normally it replays files given as arguments (a corpus or a crash
// input); `fuzz/run` compiles it together with Core's sources, with -sanitize=fuzzer
// -D FUZZING, for libFuzzer (which brings its own main).

func check(_ bytes: UnsafeBufferPointer<UInt8>) {
    var framer = LineFramer(maxLineBytes: 4096)
    // Split the input in two feeds so chunk boundaries are exercised too.
    let cut = bytes.count / 3
    var outputs = framer.feed(UnsafeBufferPointer(rebasing: bytes[0..<cut]))
    outputs += framer.feed(UnsafeBufferPointer(rebasing: bytes[cut...]))
    for case .line(let line) in outputs {
        precondition(line.count <= 4096, "framer returned an over-long line")
        precondition(!line.contains(UInt8(ascii: "\n")) && !line.contains(LineFramer.syncByte), "framer leaked a delimiter")
        if let message = try? AgentCodec.decode(line) {
            // Whatever decodes must encode and decode to the same value.
            let again = AgentCodec.encode(message)
            precondition((try? AgentCodec.decode(Array(again.dropLast()))) == message, "round trip changed a message")
        }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    check(UnsafeBufferPointer(start: data, count: size))
    return 0
}
#else
@main
struct Replay {
    static func main() {
        var failures = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = readAll(path) else {
                print("cannot read \(path)")
                failures += 1
                continue
            }
            bytes.withUnsafeBufferPointer(check)
        }
        print("replayed \(CommandLine.arguments.count - 1 - failures) inputs")
    }

    static func readAll(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}
import Glibc
#endif
