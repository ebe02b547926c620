import Foundation
@testable import HostMonitor
import Testing
import TestSupport

@Suite struct StateStoreTests {
    @Test func migrationsApplyOnceAndDataSurvivesReopen() throws {
        let dir = try TemporaryDirectory("ss")
        defer { dir.remove() }
        do {
            let store = try StateStore(directory: dir.path)
            #expect(try store.appliedMigrations() == ["v1-events-agents", "v2-event-details", "v3-operations", "v3-recycle-bin", "v4-migrations", "v5-api-tokens", "v6-snapshots", "v7-backup-policies"])
            try store.record(EventRecord(vmUUID: "u1", vmName: "a", kind: "lifecycle", message: "Started booted"))
            try store.record(EventRecord(vmUUID: "u2", vmName: "b", kind: "lifecycle", message: "Crashed panicked"))
        }
        let reopened = try StateStore(directory: dir.path)
        #expect(try reopened.appliedMigrations() == ["v1-events-agents", "v2-event-details", "v3-operations", "v3-recycle-bin", "v4-migrations", "v5-api-tokens", "v6-snapshots", "v7-backup-policies"])
        #expect(try reopened.events().map(\.message) == ["Started booted", "Crashed panicked"])
        #expect(try reopened.events(vmUUID: "u2").map(\.vmName) == ["b"])
    }
}

@Suite struct DomainXMLTests {
    @Test func findsTheAgentChannelSocket() {
        let xml = """
        <domain><devices>
          <channel type='unix'>
            <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-3-g1/org.qemu.guest_agent.0'/>
            <target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>
          </channel>
          <channel type='unix'>
            <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-3-g1/org.vigil.agent.0'/>
            <target type='virtio' name='org.vigil.agent.0' state='connected'/>
          </channel>
        </devices></domain>
        """
        #expect(DomainXML.channelSocketPath(in: xml, channelName: "org.vigil.agent.0")
                == "/var/lib/libvirt/qemu/channel/target/domain-3-g1/org.vigil.agent.0")
        #expect(DomainXML.hasChannel(in: xml, channelName: "org.qemu.guest_agent.0"))
        #expect(!DomainXML.hasChannel(in: xml, channelName: "org.example.other"))
        #expect(DomainXML.channelSocketPath(in: "<domain/>", channelName: "org.vigil.agent.0") == nil)
    }
}
