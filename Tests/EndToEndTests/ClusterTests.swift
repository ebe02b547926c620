import Foundation
import Libvirt
import Testing
import TestSupport

/// Two simulated hosts (`testbed/cluster`): separate libvirtds in their own
/// namespaces on 127.0.0.2 and 127.0.0.3, sharing one storage directory.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct ClusterTests {
    static let host1 = "qemu+tcp://127.0.0.2/system"
    static let host2 = "qemu+tcp://127.0.0.3/system"

    @Test func liveMigratesARunningGuestBetweenHosts() async throws {
        let status = try Testbed.run("cluster", ["up", "2"], timeout: 180)
        let shared = status.split(separator: "\n").first { $0.hasPrefix("shared=") }
            .map { String($0.dropFirst("shared=".count)) } ?? "/var/tmp/vigil-cluster/shared"

        let source = try Connection(uri: Self.host1)
        let destination = try Connection(uri: Self.host2)
        #expect(try source.hostname != destination.hostname, "hosts must be distinct")
        #expect(try source.hostUUID != destination.hostUUID)
        let arrivals = EventRecorder(try destination.subscribeDomainEvents())
        let departures = EventRecorder(try source.subscribeDomainEvents())

        let guest = try TestGuest(on: source, diskDirectory: shared, controlSocket: false)
        defer {
            // Wherever it ended up.
            if let moved = try? destination.domain(named: guest.name) {
                try? moved.destroy()
                try? moved.undefine()
            }
            guest.remove()
        }
        try guest.start()
        #expect(await departures.wait(for: EventRecorder.lifecycle(guest.name, .started)) != nil)
        // Let the guest boot so memory is in use while it moves.
        try await Task.sleep(for: .seconds(3))

        let began = ContinuousClock.now
        try guest.domain.migrate(toURI: Self.host2, sharedStorageKnown: true)
        let took = ContinuousClock.now - began

        let arrived = try destination.domain(named: guest.name)
        #expect(try arrived.state().state == .running)
        #expect(try arrived.state().reasonName == "migrated")
        #expect(arrived.uuid == guest.domain.uuid)
        #expect(throws: LibvirtError.self) { try source.domain(named: guest.name) }
        let started = await arrivals.wait(timeout: .seconds(10)) { event in
            guard event.domainName == guest.name, case .lifecycle(let l) = event.kind else { return false }
            return l.kind == .started || l.kind == .resumed
        }
        #expect(started != nil, "destination reported no Started/Resumed event")
        let stopped = await departures.wait(timeout: .seconds(10)) { event in
            guard event.domainName == guest.name, case .lifecycle(let l) = event.kind else { return false }
            return l.kind == .stopped && l.detailName == "migrated"
        }
        #expect(stopped != nil, "source reported no Stopped/migrated event")
        print("live migration took \(took)")
    }
}
