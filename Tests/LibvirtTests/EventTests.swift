import Libvirt
import Testing

@Suite(.serialized) struct EventTests {
    /// Collects events until `count` arrive or `timeout` passes.
    /// test:///default is shared by every connection in the process, so
    /// other tests' domains show up too: keep only `name`'s events.
    func collect(_ sub: DomainEventSubscription, name: String, count: Int,
                 timeout: Duration = .seconds(5)) async -> [DomainEvent] {
        await withTaskGroup(of: [DomainEvent]?.self) { group in
            group.addTask {
                var got: [DomainEvent] = []
                for await e in sub.events where e.domainName == name {
                    got.append(e)
                    if got.count >= count { break }
                }
                return got
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? []
        }
    }

    @Test func lifecycleEventsArriveInOrder() async throws {
        let conn = try Connection(uri: "test:///default")
        let sub = try conn.subscribeDomainEvents()
        let dom = try conn.define(xml: testDomainXML("evt"))
        try dom.create()
        try dom.suspend()
        try dom.resume()
        try dom.destroy()
        try dom.undefine()
        let events = await collect(sub, name: "evt", count: 6)
        #expect(events.allSatisfy { $0.domainName == "evt" && $0.domainUUID == dom.uuid })
        let kinds: [String] = events.compactMap {
            if case .lifecycle(let l) = $0.kind { return l.description } else { return nil }
        }
        #expect(kinds == ["Defined added", "Started booted", "Suspended paused", "Resumed unpaused",
                          "Stopped destroyed", "Undefined removed"])
        sub.cancel()
    }

    @Test func deregisteringFreesEveryCallback() async throws {
        let conn = try Connection(uri: "test:///default")
        var subs: [DomainEventSubscription] = []
        for _ in 0..<3 { subs.append(try conn.subscribeDomainEvents()) }
        // Subscribers share one registration per event type.
        #expect(conn.liveEventCallbacks == 8)
        subs[0].cancel()
        subs[1].cancel()
        #expect(conn.liveEventCallbacks == 8)
        subs[2].cancel()
        subs.removeAll()
        // libvirt runs free callbacks from its event loop; give it a moment.
        for _ in 0..<100 where conn.liveEventCallbacks != 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(conn.liveEventCallbacks == 0)
    }

    @Test func streamEndsWhenCancelled() async throws {
        let conn = try Connection(uri: "test:///default")
        let sub = try conn.subscribeDomainEvents()
        sub.cancel()
        var count = 0
        for await _ in sub.events { count += 1 }
        #expect(count == 0)
    }
}
