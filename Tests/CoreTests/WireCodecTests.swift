import Core
import Crypto
import FoundationEssentials
import Testing

/// The agent's Foundation-free codec (`WireCodec`) and vigild's (`AgentCodec`)
/// must be interchangeable: the same bytes out, the same messages in, and the
/// same verdict on hostile input.
@Suite struct WireCodecTests {
    static let manifest = AgentPackageManifest(version: "0.2.0", arch: "x86_64", size: 12_345_678,
                                               sha256: String(repeating: "ab", count: 32), keyID: "0011223344556677",
                                               signature: "c2lnbmF0dXJl/+==")
    /// Every message type, with awkward values: escapes, non-ASCII, slashes, extreme integers, nil and set optionals.
    static let samples: [AgentMessage] = [
        .hello(.init(agentVersion: "0.1.0", os: "Debian \"GNU\"/Linux 12 \\ é 🚀", kernel: "6.1.0\n\t\u{01}\u{1F}\u{7F}",
                     bootID: "0e1f", hostname: "g1", capabilities: ["heartbeat", "sync"], arch: "x86_64")),
        .hello(.init(protocolVersion: Int.max, agentVersion: "", os: "", kernel: "", bootID: "", hostname: "", capabilities: [])),
        .welcome(.init(protocolVersion: Int.min, heartbeatIntervalMs: 1000)),
        .heartbeat(.init(seq: .max, uptimeMs: 0)),
        .goodbye(.init(reason: "SIGTERM \u{0} \u{2028} \u{FFFF}")),
        .sync(.init(id: 7)),
        .crashReport(.init(source: "pstore:dmesg-ramoops-0", excerpt: "Kernel panic - not syncing\r\n<4>[ 1.0] trace")),
        .timeProbe(.init(id: 1, t1: .min)),
        .timeReply(.init(id: .max, t1: -1, t2: 0, t3: .max)),
        .timeAdjust(.init(id: 3, offsetNs: -1_500_000_000, mode: .step)),
        .timeAdjust(.init(id: 4, offsetNs: 12, mode: .slew)),
        .timeAdjusted(.init(id: 3, error: nil)),
        .timeAdjusted(.init(id: 3, error: "clock_settime: EPERM")),
        .upgradeOffer(.init(id: 9, manifest: manifest, trialTimeoutMs: 30_000)),
        .upgradeChunk(.init(id: 9, offset: 32_768, data: "AAECAwQ/+w==")),
        .upgradeStatus(.init(id: 9, state: .rolledBack, offset: 0, reason: "did not start")),
        .upgradeStatus(.init(id: 9, state: .accepted)),
    ]

    @Test(arguments: samples) func sameBytesBothWays(_ message: AgentMessage) throws {
        let wire = WireCodec.encode(message), agent = AgentCodec.encode(message)
        #expect(String(decoding: wire, as: UTF8.self) == String(decoding: agent, as: UTF8.self))
        #expect(try WireCodec.decode(agent.dropLast()) == message)
        #expect(try AgentCodec.decode(Array(wire.dropLast())) == message)
    }

    @Test func samplesCoverEveryMessageType() throws {
        let types = Set(try Self.samples.map { message -> String in
            let json = try JSONParser.parse(WireCodec.encode(message).dropLast())
            return json["type"]?.stringValue ?? ""
        })
        #expect(types == ["hello", "welcome", "heartbeat", "goodbye", "sync", "crash_report", "time_probe", "time_reply",
                          "time_adjust", "time_adjusted", "upgrade_offer", "upgrade_chunk", "upgrade_status"])
    }

    /// Both decoders accept exactly the same lines, with the same result.
    static func expectSameVerdict(_ line: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let wire = try? WireCodec.decode(line), agent = try? AgentCodec.decode(line)
        #expect(wire == agent, "\(String(decoding: line, as: UTF8.self).debugDescription)", sourceLocation: sourceLocation)
    }

    static let hostile: [String] = [
        "", " ", "null", "[]", "{}", "\"sync\"", "{\"type\":\"sync\"}", "{\"type\":\"sync\",\"body\":null}",
        "{\"type\":\"sync\",\"body\":{}}", "{\"type\":\"launch\",\"body\":{}}", "{\"type\":null,\"body\":{\"id\":1}}",
        // Unknown fields anywhere are ignored; whitespace is fine.
        "{\"type\":\"sync\",\"body\":{\"id\":1,\"extra\":[1,{\"a\":null}]},\"more\":true}",
        " \t{ \"type\" : \"sync\" , \"body\" : { \"id\" : 1 } } \r",
        // Numbers: exact, out of range, negative for unsigned, fractions, exponents, odd spellings.
        "{\"type\":\"sync\",\"body\":{\"id\":18446744073709551615}}",
        "{\"type\":\"sync\",\"body\":{\"id\":18446744073709551616}}",
        "{\"type\":\"sync\",\"body\":{\"id\":-1}}", "{\"type\":\"sync\",\"body\":{\"id\":-0}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1.5}}", "{\"type\":\"sync\",\"body\":{\"id\":2.0}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1e3}}", "{\"type\":\"sync\",\"body\":{\"id\":1E+2}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1e400}}", "{\"type\":\"sync\",\"body\":{\"id\":01}}",
        "{\"type\":\"sync\",\"body\":{\"id\":+1}}", "{\"type\":\"sync\",\"body\":{\"id\":.5}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1.}}", "{\"type\":\"sync\",\"body\":{\"id\":NaN}}",
        "{\"type\":\"sync\",\"body\":{\"id\":\"1\"}}", "{\"type\":\"sync\",\"body\":{\"id\":true}}",
        "{\"type\":\"time_probe\",\"body\":{\"id\":1,\"t1\":-9223372036854775808}}",
        "{\"type\":\"time_probe\",\"body\":{\"id\":1,\"t1\":-9223372036854775809}}",
        "{\"type\":\"time_probe\",\"body\":{\"id\":1,\"t1\":9223372036854775807}}",
        "{\"type\":\"time_probe\",\"body\":{\"id\":1,\"t1\":9223372036854775808}}",
        "{\"type\":\"welcome\",\"body\":{\"protocolVersion\":1,\"heartbeatIntervalMs\":1e2}}",
        // Strings and escapes.
        "{\"type\":\"goodbye\",\"body\":{\"reason\":\"a\\u0000b\\/c\\\"\\\\\\b\\f\\n\\r\\t\"}}",
        "{\"type\":\"goodbye\",\"body\":{\"reason\":\"\\ud83d\\ude80\"}}",
        "{\"type\":\"goodbye\",\"body\":{\"reason\":\"\\ud83d\"}}", "{\"type\":\"goodbye\",\"body\":{\"reason\":\"\\ude80x\"}}",
        "{\"type\":\"goodbye\",\"body\":{\"reason\":\"\\ud83d\\u0041\"}}", "{\"type\":\"goodbye\",\"body\":{\"reason\":\"\\x41\"}}",
        "{\"type\":\"goodbye\",\"body\":{\"reason\":\"\\u12\"}}", "{\"type\":\"goodbye\",\"body\":{\"reason\":\"\\uZZZZ\"}}",
        "{\"type\":\"goodbye\",\"body\":{\"reason\":\"tab\there\"}}", "{\"type\":\"goodbye\",\"body\":{\"reason\":\"open}}",
        "{\"type\":\"goodbye\",\"body\":{\"reason\":null}}", "{\"type\":\"goodbye\",\"body\":{\"reason\":5}}",
        // Optionals: absent, null, wrong type.
        "{\"type\":\"time_adjusted\",\"body\":{\"id\":1}}", "{\"type\":\"time_adjusted\",\"body\":{\"id\":1,\"error\":null}}",
        "{\"type\":\"time_adjusted\",\"body\":{\"id\":1,\"error\":7}}",
        "{\"type\":\"time_adjust\",\"body\":{\"id\":1,\"offsetNs\":5,\"mode\":\"leap\"}}",
        "{\"type\":\"upgrade_status\",\"body\":{\"id\":1,\"state\":\"rolled_back\",\"offset\":0}}",
        // Arrays of the wrong element type; duplicate keys (the last wins in both).
        "{\"type\":\"hello\",\"body\":{\"protocolVersion\":1,\"agentVersion\":\"a\",\"os\":\"o\",\"kernel\":\"k\",\"bootID\":\"b\",\"hostname\":\"h\",\"capabilities\":[1]}}",
        "{\"type\":\"hello\",\"body\":{\"protocolVersion\":1,\"agentVersion\":\"a\",\"os\":\"o\",\"kernel\":\"k\",\"bootID\":\"b\",\"hostname\":\"h\",\"capabilities\":[null]}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1,\"id\":2}}", "{\"type\":\"heartbeat\",\"type\":\"sync\",\"body\":{\"id\":3}}",
        // Structure: trailing data, commas, comments, literals.
        "{\"type\":\"sync\",\"body\":{\"id\":1}}x", "{\"type\":\"sync\",\"body\":{\"id\":1}} {}",
        "{\"type\":\"sync\",\"body\":{\"id\":1},}", "{\"type\":\"sync\",\"body\":{\"id\":1,}}", "{\"type\":\"sync\" \"body\":{}}",
        "{'type':'sync'}", "{\"type\":\"sync\",\"body\":{\"id\":tru}}", "{\"type\":\"sync\",/*c*/\"body\":{\"id\":1}}",
        "\u{FEFF}{\"type\":\"sync\",\"body\":{\"id\":1}}", " \u{FEFF}{\"type\":\"sync\",\"body\":{\"id\":1}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1,,}}", "{\"type\":\"sync\",\"body\":{,}}",
        "{\"type\":\"hello\",\"body\":{\"protocolVersion\":1,\"agentVersion\":\"a\",\"os\":\"o\",\"kernel\":\"k\",\"bootID\":\"b\",\"hostname\":\"h\",\"capabilities\":[\"x\",]}}",
        // Whole numbers spelled with fractions and exponents, beyond a double's precision, out of range.
        "{\"type\":\"sync\",\"body\":{\"id\":12345678901234567.0}}", "{\"type\":\"sync\",\"body\":{\"id\":1.5e1}}",
        "{\"type\":\"sync\",\"body\":{\"id\":100e-2}}", "{\"type\":\"sync\",\"body\":{\"id\":101e-2}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1e19}}", "{\"type\":\"sync\",\"body\":{\"id\":1.8446744073709551615e19}}",
        "{\"type\":\"sync\",\"body\":{\"id\":0e999999999999}}", "{\"type\":\"sync\",\"body\":{\"id\":92233720368547758.027}}",
        "{\"type\":\"time_probe\",\"body\":{\"id\":1,\"t1\":-9.223372036854775808e18}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1,\"x\":1e400}}", "{\"type\":\"sync\",\"body\":{\"id\":1,\"x\":1e-400}}",
        "{\"type\":\"sync\",\"body\":{\"id\":1,\"x\":-0.0}}",
    ]

    @Test func hostileLinesGetTheSameVerdict() {
        for line in Self.hostile { Self.expectSameVerdict(Array(line.utf8)) }
        // Raw bytes that are not UTF-8, in and out of strings.
        for bad: [UInt8] in [[0xC3, 0x28], [0xED, 0xA0, 0x80], [0xFF], [0xC0, 0xAF]] {
            Self.expectSameVerdict(Array("{\"type\":\"goodbye\",\"body\":{\"reason\":\"".utf8) + bad + Array("\"}}".utf8))
            Self.expectSameVerdict(Array("{\"type\":\"sync\",\"body\":{\"id\":1}}".utf8) + bad)
        }
    }

    @Test func everyTruncationOfEverySampleGetsTheSameVerdict() {
        for message in Self.samples {
            let line = Array(AgentCodec.encode(message).dropLast())
            for end in 0..<line.count { Self.expectSameVerdict(Array(line[..<end])) }
        }
    }

    /// Where JSONDecoder truncates a fraction lost in a double's precision, the
    /// agent refuses: a fraction is never silently dropped from an integer.
    @Test func fractionsBeyondDoublePrecisionAreNotTruncated() {
        for line in ["{\"type\":\"sync\",\"body\":{\"id\":1.00000000000000000001}}",
                     "{\"type\":\"time_probe\",\"body\":{\"id\":1,\"t1\":-922337203685477580.8}}"] {
            #expect(throws: AgentCodecError.self) { try WireCodec.decode(Array(line.utf8)) }
        }
    }

    /// Deep nesting (in an ignored field) is refused by the agent rather than
    /// recursing without bound; JSONDecoder refuses it too past its own limit.
    @Test func deepNestingIsRefusedNotACrash() throws {
        let deep = String(repeating: "[", count: 100_000)
        let line = Array("{\"type\":\"sync\",\"body\":{\"id\":1,\"x\":\(deep)}}".utf8)
        #expect(throws: AgentCodecError.self) { try WireCodec.decode(line) }
        let shallow = Array("{\"type\":\"sync\",\"body\":{\"id\":1,\"x\":[[[[[[[[1]]]]]]]]}}".utf8)
        #expect(try WireCodec.decode(shallow) == .sync(.init(id: 1)))
    }

    /// A number written with a fraction or exponent (the samples have none).
    static func hasFraction(_ line: [UInt8]) -> Bool {
        zip(line, line.dropFirst()).contains { a, b in
            (0x30...0x39).contains(a) && (b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E"))
        }
    }

    static func hasBadStringContent(_ line: [UInt8]) -> Bool {
        if String(validating: line, as: UTF8.self) == nil || line.contains(where: { $0 < 0x20 }) { return true }
        let hex = Set(Array("0123456789abcdefABCDEF".utf8)), simple = Set(Array("\"\\/bfnrt".utf8))
        var i = 0
        while i < line.count {
            if line[i] == UInt8(ascii: "\\") {
                guard i + 1 < line.count else { return true }
                if line[i + 1] == UInt8(ascii: "u") {
                    guard i + 5 < line.count, line[(i + 2)...(i + 5)].allSatisfy(hex.contains) else { return true }
                    i += 6
                    continue
                }
                guard simple.contains(line[i + 1]) else { return true }
                i += 2
                continue
            }
            i += 1
        }
        return false
    }

    /// Random damage to valid lines: both codecs agree on every mutant.
    @Test func mutatedLinesGetTheSameVerdict() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("{}[]\",:\\0123456789.eE+-tfnul ab".utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
        for _ in 0..<20_000 {
            var line = Array(AgentCodec.encode(Self.samples.randomElement(using: &rng) ?? .sync(.init(id: 1))).dropLast())
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !line.isEmpty {
                let at = Int.random(in: 0..<line.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: line[at] = alphabet.randomElement(using: &rng) ?? 0
                case 1: line.remove(at: at)
                default: line.insert(alphabet.randomElement(using: &rng) ?? 0, at: at)
                }
            }
            let wire = try? WireCodec.decode(line), agent = try? AgentCodec.decode(line)
            // The agent is never the more lenient one.
            if let wire { #expect(wire == agent, "\(String(decoding: line, as: UTF8.self).debugDescription)") }
            // It refuses invalid UTF-8, raw control characters and bad escapes in
            // any string, JSONDecoder only in strings it reads; and fractions
            // JSONDecoder truncates (deliberate: vigild never sends either).
            // Otherwise: the same verdict.
            if wire == nil && agent != nil {
                #expect(Self.hasBadStringContent(line) || Self.hasFraction(line), "\(String(decoding: line, as: UTF8.self).debugDescription)")
            }
        }
    }
}

/// The agent's own base64, SHA-256 and key ids match Foundation and swift-crypto.
@Suite struct WirePackageTests {
    @Test func base64MatchesFoundation() {
        var rng = SystemRandomNumberGenerator()
        for count in 0..<70 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = Data(bytes).base64EncodedString()
            #expect(Base64.encode(bytes) == text)
            #expect(Base64.decode(text) == bytes)
        }
        for text in ["", "QQ==", "QUI=", "QUJD", "QQ=", "QQ", "Q===", "QQ==QQ==", "QU I=", "QUI=\n", "QUJ*", "=QUI", "QR=="] {
            #expect(Base64.decode(text) == Data(base64Encoded: text).map(Array.init), "\(text.debugDescription)")
        }
    }

    @Test func sha256MatchesSwiftCrypto() {
        var rng = SystemRandomNumberGenerator()
        for count in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 100_000] {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(WireSHA256.hash(bytes) == Array(SHA256.hash(data: bytes)), "\(count) bytes")
        }
    }

    @Test func keyIDsMatchTheSigningSide() throws {
        let key = Curve25519.Signing.PrivateKey().publicKey
        let file = Data(key.rawRepresentation).base64EncodedString() + "\n"
        let raw = try #require(PackageKeys.read(file))
        #expect(PackageKeys.keyID(raw: raw) == AgentPackage.keyID(key))
        #expect(PackageKeys.read("QUJD") == nil)
    }
}
