import Testing
@testable import GuestAgent

/// Commands that change the machine, driven through a fake system: nothing
/// here freezes, re-times or shuts down the test host.
@Suite struct QGAActionTests {
    let log = CallLog()

    @Test func shutdownAnswersNothingAndAsksForTheAction() {
        let server = QGAServer(version: "t", system: log.system)
        #expect(server.send(#"{"execute":"guest-shutdown"}"#) == [.shutdown(mode: "powerdown")])
        #expect(server.send(#"{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}"#) == [.shutdown(mode: "reboot")])
        #expect(server.send(#"{"execute":"guest-shutdown","arguments":{"mode":"halt"}}"#) == [.shutdown(mode: "halt")])
        let bad = QGATest.responses(server.send(#"{"execute":"guest-shutdown","arguments":{"mode":"nap"}}"#))
        #expect(QGATest.errorClass(bad.first) == "GenericError")
    }

    @Test func setTimeWithAndWithoutATime() {
        let server = QGAServer(version: "t", system: log.system)
        #expect(server.call("guest-set-time", #"{"time":1700000000123456789}"#) == ["return": [:]])
        #expect(server.call("guest-set-time") == ["return": [:]])
        #expect(QGATest.errorClass(server.call("guest-set-time", #"{"time":-1}"#)) == "GenericError")
        #expect(QGATest.errorClass(server.call("guest-set-time", #"{"time":"soon"}"#)) == "GenericError")
        #expect(log.all == ["settime 1700000000123456789", "settime rtc"])
    }

    @Test func freezeBlocksOtherCommandsUntilThaw() {
        let server = QGAServer(version: "t", system: log.system)
        #expect(server.call("guest-fsfreeze-status") == ["return": "thawed"])
        #expect(server.call("guest-fsfreeze-freeze") == ["return": 2])
        #expect(server.call("guest-fsfreeze-status") == ["return": "frozen"])
        // libvirt syncs before every command, so sync and ping must keep working.
        #expect(server.call("guest-sync", #"{"id":9}"#) == ["return": 9])
        #expect(server.call("guest-ping") == ["return": [:]])
        #expect(QGATest.errorClass(server.call("guest-get-time")) == "CommandNotFound")
        #expect(QGATest.errorClass(server.call("guest-fsfreeze-freeze")) == "GenericError")
        #expect(server.send(#"{"execute":"guest-shutdown"}"#).allSatisfy { $0 != .shutdown(mode: "powerdown") })
        #expect(server.call("guest-fsfreeze-thaw") == ["return": 2])
        #expect(server.call("guest-fsfreeze-status") == ["return": "thawed"])
        #expect(server.call("guest-get-time")?["return"] != nil)
        #expect(log.all == ["freeze [\"all\"]", "thaw"])
    }

    @Test func freezeListPassesTheMountpoints() {
        let server = QGAServer(version: "t", system: log.system)
        #expect(server.call("guest-fsfreeze-freeze-list", #"{"mountpoints":["/","/var"]}"#) == ["return": 2])
        #expect(QGATest.errorClass(server.call("guest-fsfreeze-thaw")) == nil)
        #expect(QGATest.errorClass(server.call("guest-fsfreeze-freeze-list", #"{"mountpoints":[1]}"#)) == "GenericError")
        #expect(log.all == ["freeze [\"/\", \"/var\"]", "thaw"])
    }
}
