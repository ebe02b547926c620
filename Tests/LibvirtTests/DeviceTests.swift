import Libvirt
import Testing

/// vCPU and memory changes on libvirt's test driver (it implements them
/// live and in the config); device hot-plug and block resize it does not
/// implement, so those are checked against the real libvirtd in
/// EndToEndTests/HardwareTests — here only that the failure is reported.
@Suite struct DeviceTests {
    @Test func vcpusLiveConfigAndMaximum() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.define(xml: """
            <domain type='test'><name>cpus</name><memory unit='MiB'>128</memory>
            <vcpu current='1'>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>
            """)
        defer { try? dom.destroy(); try? dom.undefine() }
        #expect(try dom.vcpuCount(.config) == 1)
        #expect(try dom.vcpuCount([.config, .maximum]) == 2)
        try dom.setVcpus(4, [.config, .maximum])
        try dom.setVcpus(3, .config)
        #expect(try dom.vcpuCount([.config, .maximum]) == 4 && dom.vcpuCount(.config) == 3)
        try dom.create()
        #expect(try dom.vcpuCount(.live) == 3)
        try dom.setVcpus(2, .live)
        #expect(try dom.vcpuCount(.live) == 2 && dom.vcpuCount(.config) == 3)
        #expect(throws: LibvirtError.self) { try dom.setVcpus(5, .live) }
        #expect(throws: LibvirtError.self) { try dom.setVcpus(-1, .live) }
    }

    @Test func memoryCurrentAndMaximum() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.define(xml: testDomainXML("mem"))
        defer { try? dom.destroy(); try? dom.undefine() }
        try dom.setMemory(kib: 256 * 1024, [.config, .maximum])
        try dom.setMemory(kib: 192 * 1024, .config)
        try dom.create()
        #expect(try dom.info().maxMemoryKiB == 256 * 1024 && dom.info().memoryKiB == 192 * 1024)
        try dom.setMemory(kib: 160 * 1024, .live)
        #expect(try dom.info().memoryKiB == 160 * 1024)
        #expect(throws: LibvirtError.self) { try dom.setMemory(kib: 512 * 1024, .live) }
    }

    @Test func unsupportedDeviceChangesAreReportedNotIgnored() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.domain(named: "test")
        let nic = "<interface type='user'><mac address='52:54:00:00:00:77'/></interface>"
        for attempt in [{ try dom.attachDevice(xml: nic, affect: .live) }, { try dom.detachDevice(xml: nic, affect: .live) },
                        { try dom.blockResize("vda", bytes: 1 << 30) }] {
            do {
                try attempt()
                Issue.record("the test driver accepted a change it does not implement")
            } catch let error as LibvirtError {
                #expect(error.code == .noSupport || error.code == .operationUnsupported, "\(error)")
                #expect(error.operation.contains("'test'"))
            }
        }
    }
}
