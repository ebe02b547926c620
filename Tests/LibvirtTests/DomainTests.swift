import Libvirt
import Testing

func testDomainXML(_ name: String, uuid: String? = nil) -> String {
    """
    <domain type='test'>
      <name>\(name)</name>\(uuid.map { "<uuid>\($0)</uuid>" } ?? "")
      <memory unit='MiB'>128</memory>
      <vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type></os>
    </domain>
    """
}

@Suite struct DomainTests {
    @Test func fullLifecycle() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.define(xml: testDomainXML("life"))
        #expect(try dom.state().state == .shutoff)
        #expect(try dom.isPersistent)
        try dom.create()
        #expect(try dom.state().state == .running)
        #expect(dom.id != nil)
        #expect(try dom.info().memoryKiB == 128 * 1024)
        try dom.suspend()
        #expect(try dom.state() == DomainStateWithReason(state: .paused, reason: 1))
        #expect(try dom.state().reasonName == "user")
        try dom.resume()
        #expect(try dom.state().state == .running)
        try dom.reboot()
        try dom.managedSave()
        #expect(try dom.state().state == .shutoff)
        #expect(try dom.hasManagedSaveImage)
        try dom.create()
        #expect(try dom.state().state == .running)
        #expect(try !dom.hasManagedSaveImage)
        try dom.shutdown()
        #expect(try dom.state().state == .shutoff)
        try dom.create()
        try dom.destroy()
        #expect(try dom.state() == DomainStateWithReason(state: .shutoff, reason: 2))
        try dom.undefine([.managedSave])
        #expect(throws: LibvirtError.self) { try conn.domain(named: "life") }
    }

    @Test func xmlAndMetadataRoundTrip() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.define(xml: testDomainXML("meta", uuid: "6e4b2a1c-1111-4a3b-9c1d-0123456789ab"))
        #expect(dom.uuid == "6e4b2a1c-1111-4a3b-9c1d-0123456789ab")
        #expect(try dom.xml().contains("<name>meta</name>"))
        let ns = "https://vigil.example/xmlns/policy/1"
        #expect(try dom.metadata(namespaceURI: ns) == nil)
        try dom.setMetadata("<policy onCrash='restart'/>", key: "vigil", namespaceURI: ns, affect: .config)
        let stored = try #require(try dom.metadata(namespaceURI: ns))
        #expect(stored.contains("onCrash=\"restart\""))
        try dom.setMetadata(nil, key: "vigil", namespaceURI: ns, affect: .config)
        #expect(try dom.metadata(namespaceURI: ns) == nil)
        try dom.undefine()
    }

    @Test func titleDescriptionBlkioWeightAndSnapshots() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.define(xml: testDomainXML("tuned"))
        defer { try? dom.undefine() }
        #expect(try dom.title() == nil && dom.description() == nil)
        try dom.setTitle("Tuned one", affect: .config)
        try dom.setDescription("for <tests> & more", affect: .config)
        try dom.setBlkioWeight(640, affect: .config)
        #expect(try dom.title() == "Tuned one" && dom.description() == "for <tests> & more")
        #expect(try dom.xml([.inactive]).contains("<weight>640</weight>"))
        #expect(throws: LibvirtError.self) { try dom.setTitle("two\nlines", affect: .config) }
        try dom.setTitle("", affect: .config)
        #expect(try dom.title() == nil)
        #expect(try dom.snapshotCount == 0)
    }

    @Test func errorsNameTheDomainAndOperation() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.define(xml: testDomainXML("errs"))
        let error = #expect(throws: LibvirtError.self) { try dom.suspend() }
        #expect(error?.message.contains("not running") == true)
        #expect(error?.description.contains("suspend domain 'errs'") == true)
        let bad = #expect(throws: LibvirtError.self) { try conn.define(xml: "<domain>") }
        #expect(bad?.code == .xmlDetail || bad?.code == .xmlError)
        try dom.undefine()
    }

    @Test func listsDomainsWithFilters() throws {
        let conn = try Connection(uri: "test:///default")
        try conn.define(xml: testDomainXML("listed"))
        #expect(try conn.domains().map(\.name).contains("listed"))
        #expect(try conn.domains(.active).map(\.name) == ["test"])
        #expect(try conn.domains(.inactive).map(\.name).contains("listed"))
        try conn.domain(named: "listed").undefine()
    }
}
