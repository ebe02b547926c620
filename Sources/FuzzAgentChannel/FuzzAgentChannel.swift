import AgentWire
import FoundationEssentials
import FuzzSupport

// The host side of the agent channel, as vigild runs it on whatever bytes a
// guest writes: LineFramer, then AgentCodec (HotPath for compact heartbeats
// and syncs, JSONDecoder for the rest). Its speed is what a hostile guest's
// flood costs vigild per line (bench/fuzz: ≥ 20 000 exec/s). Checks: framing
// bounds; HotPath reads what JSONDecoder reads. Round trips (whatever decodes
// encodes to one line that decodes back to itself) and the agent's WireCodec
// against it: FuzzCodecAgreement, so this target runs vigild's parsing alone.
// AgentCodec.swift and the Exports.swift that re-exports AgentWire to it are
// Core's own files (symlinks beside this one): no swift-crypto in a fuzz build.
@main
enum FuzzAgentChannel {
    /// Lines longer than this are dropped. Small (vigild's is 64 KiB), so
    /// short inputs (fuzz/targets gives -max_len) reach the oversized path too.
    static let maxLine = 512
    /// AgentCodec without its hot path, to check the hot path against.
    static let decoder = JSONDecoder()

    static func main() {
        FuzzMain.run { bytes in check(bytes.bindMemory(to: UInt8.self)) }
    }

    static func check(_ bytes: UnsafeBufferPointer<UInt8>) {
        var framer = LineFramer(maxLineBytes: maxLine)
        // Two feeds, so chunk boundaries are exercised too.
        let cut = bytes.count / 3
        var outputs = framer.feed(UnsafeBufferPointer(rebasing: bytes[0..<cut]))
        outputs += framer.feed(UnsafeBufferPointer(rebasing: bytes[cut...]))
        for case .line(let line) in outputs {
            precondition(!line.isEmpty && line.count <= maxLine, "framer returned an empty or over-long line")
            precondition(!line.contains(UInt8(ascii: "\n")) && !line.contains(LineFramer.syncByte), "framer leaked a delimiter")
            decode(line)
        }
    }

    static func decode(_ line: [UInt8]) {
        guard let message = try? AgentCodec.decode(line) else { return }
        if HotPath.syncID(line) != nil || HotPath.heartbeatFields(line) != nil {
            precondition((try? decoder.decode(AgentMessage.self, from: Data(line))) == message, "HotPath read a line differently from JSONDecoder")
        }
    }
}
