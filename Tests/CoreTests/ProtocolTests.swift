import Core
import Testing

@Suite struct ProtocolTests {
    static let samples: [AgentMessage] = [
        .hello(.init(agentVersion: "0.1.0", os: "Debian GNU/Linux 12", kernel: "6.1.0-28-amd64",
                     bootID: "0e1f", hostname: "g1", capabilities: ["heartbeat"])),
        .welcome(.init(heartbeatIntervalMs: 1000)),
        .heartbeat(.init(seq: 42, uptimeMs: 1234)),
        .goodbye(.init(reason: "SIGTERM")),
        .sync(.init(id: 7)),
        .crashReport(.init(source: "pstore:dmesg-ramoops-0", excerpt: "Kernel panic - not syncing")),
        .inventoryRequest(.init(id: 9)),
        .inventory(.init(id: 9, cpusOnline: 2, memTotalKiB: 231_000, nics: [.init(name: "eth0", mac: "52:54:00:12:34:56")],
                         disks: [.init(name: "vda", sizeBytes: 67_108_864)], onlined: ["cpu1"])),
    ]

    @Test(arguments: samples) func roundTrip(_ message: AgentMessage) throws {
        let bytes = AgentCodec.encode(message)
        #expect(bytes.last == UInt8(ascii: "\n"))
        #expect(bytes.dropLast().contains(UInt8(ascii: "\n")) == false)
        #expect(try AgentCodec.decode(Array(bytes.dropLast())) == message)
    }

    @Test func inventoryWireFormat() throws {
        let line = #"{"type":"inventory","body":{"id":3,"cpusOnline":1,"memTotalKiB":1024,"nics":[],"disks":[{"name":"vdb","sizeBytes":512}],"onlined":[]}}"#
        let message = try AgentCodec.decode(Array(line.utf8))
        #expect(message == .inventory(.init(id: 3, cpusOnline: 1, memTotalKiB: 1024, nics: [], disks: [.init(name: "vdb", sizeBytes: 512)])))
        #expect(message.replyID == 3)
        #expect(String(decoding: AgentCodec.encode(.inventoryRequest(.init(id: 5))), as: UTF8.self).contains(#""type":"inventory_request""#))
    }

    @Test func hostileInventoryIsBounded() {
        let long = String(repeating: "x", count: 5000) + "\u{1b}[31m"
        let raw = AgentMessage.Inventory(id: 1, cpusOnline: -5, memTotalKiB: .max,
                                         nics: Array(repeating: .init(name: long, mac: "\u{7}52:54"), count: 1000),
                                         disks: Array(repeating: .init(name: long, sizeBytes: 1), count: 1000),
                                         onlined: Array(repeating: long, count: 1000))
        let b = raw.bounded()
        #expect(b.cpusOnline == 0 && b.memTotalKiB == 1 << 40)
        #expect(b.nics.count == 64 && b.disks.count == 64 && b.onlined.count == 64)
        #expect(b.nics.allSatisfy { $0.name.count == 64 && $0.mac == "52:54" })
        #expect((b.disks.map(\.name) + b.onlined).allSatisfy { $0.count <= 64 && !$0.contains("\u{1b}") })
    }

    @Test func unknownTypeIsAnError() {
        #expect(throws: AgentCodec.DecodeError.self) {
            try AgentCodec.decode(Array(#"{"type":"launch","body":{}}"#.utf8))
        }
        #expect(throws: AgentCodec.DecodeError.self) { try AgentCodec.decode(Array("garbage".utf8)) }
    }

    @Test func framerSplitsLinesFedOneByteAtATime() {
        var framer = LineFramer(maxLineBytes: 100)
        var out: [LineFramer.Output] = []
        for byte in Array("one\ntwo\r\n\nthree".utf8) { out += framer.feed([byte]) }
        #expect(out == [.line(Array("one".utf8)), .line(Array("two".utf8))])
        #expect(framer.feed(Array("\n".utf8)) == [.line(Array("three".utf8))])
    }

    @Test func framerDropsOversizedLineAndRecovers() {
        var framer = LineFramer(maxLineBytes: 8)
        let out = framer.feed(Array("0123456789abcdef\nok\n".utf8))
        #expect(out == [.oversized(bytes: 16), .line(Array("ok".utf8))])
    }

    @Test func syncByteDiscardsPartialLine() throws {
        var framer = LineFramer()
        var out = framer.feed(Array("{\"type\":\"hea".utf8))
        out += framer.feed([LineFramer.syncByte])
        out += framer.feed(AgentCodec.encode(.sync(.init(id: 3))))
        #expect(out.count == 2)
        #expect(out.first == .resynced(discarded: 12))
        guard case .line(let line) = out.last else { Issue.record("no line"); return }
        #expect(try AgentCodec.decode(line) == .sync(.init(id: 3)))
    }

    @Test func corruptedStreamYieldsOnlyValidMessages() throws {
        var framer = LineFramer(maxLineBytes: 256)
        var stream: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        for i in 0..<200 {
            stream += AgentCodec.encode(.heartbeat(.init(seq: UInt64(i), uptimeMs: 0)))
            if i % 7 == 0 { stream += (0..<50).map { _ in UInt8.random(in: 0...0xFE, using: &generator) } }
        }
        var valid = 0
        for case .line(let line) in framer.feed(stream) {
            if case .heartbeat = try? AgentCodec.decode(line) { valid += 1 }
        }
        // Garbage may swallow the message that follows it, never more.
        #expect(valid >= 200 - 29)
        #expect(valid <= 200)
    }
}

/// The hand-rolled hot path agrees with the codec both ways.
struct HotPathTests {
    @Test(arguments: [UInt64(0), 7, 1_234_567_890_123])
    func syncMatchesTheCodec(id: UInt64) throws {
        let encoded = AgentCodec.encode(.sync(.init(id: id)))
        #expect(HotPath.sync(id) == encoded)
        #expect(HotPath.syncID(Array(encoded.dropLast())) == id)
        #expect(try AgentCodec.decode(Array(HotPath.sync(id).dropLast())) == .sync(.init(id: id)))
    }

    @Test func heartbeatMatchesTheCodec() throws {
        let line = HotPath.heartbeat(seq: 42, uptimeMs: 9_000)
        #expect(line == AgentCodec.encode(.heartbeat(.init(seq: 42, uptimeMs: 9_000))))
    }

    @Test func anythingElseIsLeftToTheCodec() {
        for text in [#"{"type": "sync", "body": {"id": 1}}"#, #"{"body":{"id":-1},"type":"sync"}"#,
                     #"{"body":{"id":},"type":"sync"}"#, #"{"body":{"id":99999999999999999999},"type":"sync"}"#] {
            #expect(HotPath.syncID(Array(text.utf8)) == nil, "\(text)")
        }
    }
}
