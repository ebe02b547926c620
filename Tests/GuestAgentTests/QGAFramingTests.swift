import Testing
@testable import GuestAgent

/// Byte-stream handling: QGA has no line framing and hostile input must not hurt.
@Suite struct QGAFramingTests {
    @Test func requestSplitAcrossFeedsIsAnsweredOnce() {
        let server = QGAServer(version: "test")
        let request = Array(#"{"execute":"guest-ping","id":1}"#.utf8)
        var outputs: [QGAOutput] = []
        for byte in request {
            outputs += server.feed([byte][...])
        }
        let responses = QGATest.responses(outputs)
        #expect(responses == [["return": [:], "id": 1]])
    }

    @Test func severalRequestsInOneFeedAreAnsweredInOrder() {
        let server = QGAServer(version: "test")
        let text = #"{"execute":"guest-ping","id":"a"}  {"execute":"guest-sync","arguments":{"id":5}}"# + "\n\t"
            + #"{"execute":"guest-sync","arguments":{"id":6}}"#
        let responses = QGATest.responses(server.send(text))
        #expect(responses == [["return": [:], "id": "a"], ["return": 5], ["return": 6]])
    }

    @Test func bracesAndEscapedQuotesInsideStringsDoNotEndTheObject() {
        let server = QGAServer(version: "test")
        let responses = QGATest.responses(server.send(#"{"execute":"guest-ping","id":"}{\"]\\"}"#))
        #expect(responses == [["return": [:], "id": .string(#"}{"]\"#)]])
    }

    @Test func resetByteDiscardsThePartialObject() {
        let server = QGAServer(version: "test")
        #expect(server.send(#"{"execute":"guest-info","argu"#).isEmpty)
        let outputs = server.feed([0xFF][...]) + server.send(#"{"execute":"guest-ping","id":2}"#)
        #expect(QGATest.responses(outputs) == [["return": [:], "id": 2]])
    }

    @Test func badJSONIsAnErrorAndTheStreamRecovers() {
        let server = QGAServer(version: "test")
        let bad = QGATest.responses(server.send(#"{"execute": nope, "id": 1}"#))
        #expect(bad.count == 1)
        #expect(QGATest.errorClass(bad.first) == "GenericError")
        #expect(server.call("guest-ping", id: "3") == ["return": [:], "id": 3])
    }

    @Test func garbageOutsideObjectsIsReportedOnceAndSkipped() {
        let server = QGAServer(version: "test")
        let responses = QGATest.responses(server.send("hello world\n" + #"{"execute":"guest-ping"}"#))
        // One error per run of junk ("hello", "world"), then the ping's answer.
        #expect(responses.count == 3)
        #expect(QGATest.errorClass(responses[0]) == "GenericError")
        #expect(responses[2] == ["return": [:]])
    }

    @Test func oversizedRequestIsDroppedWithOneErrorAndTheStreamRecovers() {
        let server = QGAServer(version: "test")
        let huge = #"{"execute":"guest-ping","arguments":{"pad":""# + String(repeating: "{x", count: 40_000) + #""}}"#
        var outputs: [QGAOutput] = []
        // Fed in chunks, as reads from the port would deliver it.
        let bytes = Array(huge.utf8)
        for start in stride(from: 0, to: bytes.count, by: 4096) {
            outputs += server.feed(bytes[start..<min(start + 4096, bytes.count)])
        }
        let responses = QGATest.responses(outputs)
        #expect(responses.count == 1)
        #expect(QGATest.errorClass(responses.first) == "GenericError")
        #expect(server.call("guest-ping", id: "4") == ["return": [:], "id": 4])
    }

    @Test func deeplyNestedOrInvalidUTF8InputIsAnErrorNotACrash() {
        let server = QGAServer(version: "test")
        let nested = #"{"execute":"guest-ping","arguments":{"a":"# + String(repeating: "[", count: 20_000)
            + String(repeating: "]", count: 20_000) + "}}"
        #expect(QGATest.errorClass(QGATest.responses(server.send(nested)).first) == "GenericError")
        let invalid: [UInt8] = Array(#"{"execute":"guest-"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(QGATest.errorClass(QGATest.responses(server.feed(invalid[...])).first) == "GenericError")
        #expect(server.call("guest-ping") == ["return": [:]])
    }

    @Test func everyResponseIsOneLine() {
        let server = QGAServer(version: "test")
        for command in ["guest-info", "guest-get-osinfo", "guest-network-get-interfaces", "guest-get-fsinfo"] {
            for output in server.send(#"{"execute":"\#(command)"}"#) {
                guard case .write(let bytes) = output else { continue }
                #expect(bytes.last == UInt8(ascii: "\n"))
                #expect(!bytes.dropLast().contains(UInt8(ascii: "\n")))
            }
        }
    }
}
