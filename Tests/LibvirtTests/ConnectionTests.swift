import Libvirt
import Testing

/// Binding tests on libvirt's built-in `test:///default` driver: a fresh
/// in-process hypervisor with one running domain named "test".
@Suite struct ConnectionTests {
    @Test func opensAndReportsHostFacts() throws {
        let conn = try Connection(uri: "test:///default")
        #expect(try conn.driverType.lowercased() == "test")
        #expect(try conn.hostname.isEmpty == false)
        #expect(try conn.nodeInfo.cpus > 0)
        #expect(try conn.libraryVersion.major >= 9)
        #expect(conn.isAlive)
        conn.close()
        #expect(!conn.isAlive)
        #expect(throws: LibvirtError.self) { try conn.domains() }
    }

    @Test func readOnlyConnectionRefusesChanges() throws {
        let conn = try Connection(uri: "test:///default", readOnly: true)
        let dom = try conn.domain(named: "test")
        let error = #expect(throws: LibvirtError.self) { try dom.suspend() }
        #expect(error?.code == .operationDenied)
    }

    @Test func badURIGivesTypedError() {
        let error = #expect(throws: LibvirtError.self) { try Connection(uri: "nosuchdriver:///x") }
        #expect(error?.message.isEmpty == false)
        #expect(error?.description.contains("connect to nosuchdriver:///x") == true)
    }

    @Test func lookupByNameAndUUID() throws {
        let conn = try Connection(uri: "test:///default")
        let byName = try conn.domain(named: "test")
        let byUUID = try conn.domain(uuid: byName.uuid)
        #expect(byUUID.name == "test")
        #expect(try conn.domain(nameOrUUID: byName.uuid).name == "test")
        let error = #expect(throws: LibvirtError.self) { try conn.domain(named: "missing") }
        #expect(error?.code == .noDomain)
        #expect(error?.description.contains("missing") == true)
    }
}
