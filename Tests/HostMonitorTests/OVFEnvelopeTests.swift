import Foundation
@testable import HostMonitor
import Testing

/// OVF descriptors as exported by other hypervisors, and hostile ones.
@Suite struct OVFEnvelopeTests {
    static func ovf(href: String = "disk1.vmdk", memory: String = "<rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>384</rasd:VirtualQuantity>") -> String {
        """
        <?xml version="1.0"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
                  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
          <References><File ovf:id="file1" ovf:href="\(href)"/></References>
          <DiskSection><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="2" ovf:capacityAllocationUnits="byte * 2^30"/></DiskSection>
          <VirtualSystem ovf:id="vm1"><Name>web-appliance</Name>
            <VirtualHardwareSection>
              <Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>4</rasd:VirtualQuantity></Item>
              <Item>\(memory)</Item>
              <Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
              <Item><rasd:ResourceType>10</rasd:ResourceType></Item>
              <Item><rasd:ResourceType>10</rasd:ResourceType></Item>
            </VirtualHardwareSection>
          </VirtualSystem>
        </Envelope>
        """
    }

    @Test func readsNameCPUsMemoryDisksAndNICs() throws {
        let e = try OVFEnvelope(xml: Self.ovf())
        #expect(e.name == "web-appliance")
        #expect(e.vcpus == 4 && e.memoryMiB == 384 && e.nics == 2)
        #expect(e.disks == [OVFEnvelope.Disk(file: "disk1.vmdk", capacityBytes: 2 << 30)])
    }

    @Test func memoryUnitsAreHonoured() throws {
        let gib = "<rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity>"
        #expect(try OVFEnvelope(xml: Self.ovf(memory: gib)).memoryMiB == 2048)
        let mb = "<rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity>"
        #expect(try OVFEnvelope(xml: Self.ovf(memory: mb)).memoryMiB == 512)
    }

    @Test func refusesFileReferencesOutsideTheOVA() {
        for href in ["../../etc/shadow", "/etc/passwd", ".hidden", "dir/disk.vmdk"] {
            #expect(throws: OVFEnvelope.Invalid.self, "\(href)") { try OVFEnvelope(xml: Self.ovf(href: href)) }
        }
    }

    @Test func refusesDescriptorsWithoutWhatAVMNeeds() throws {
        #expect(throws: OVFEnvelope.Invalid.self) { try OVFEnvelope(xml: "<Envelope/>") }
        #expect(throws: OVFEnvelope.Invalid.self) { try OVFEnvelope(xml: Self.ovf(memory: "<rasd:ResourceType>4</rasd:ResourceType>")) }
        #expect(throws: OVFEnvelope.Invalid.self) { try OVFEnvelope(xml: "not xml <") }
        // FoundationXML dereferenced a null document for these (found by fuzz/FuzzOVF).
        #expect(throws: OVFEnvelope.Invalid.self) { try OVFEnvelope(xml: "") }
        #expect(throws: OVFEnvelope.Invalid.self) { try OVFEnvelope(xml: "\u{0}<Envelope/>") }
        #expect(throws: DomainDefinition.Invalid.self) { try DomainDefinition(xml: "") }
        // Sizes past Int64 trapped (found by fuzz/FuzzOVF): refused, or memory clamped.
        let huge = Self.ovf().replacingOccurrences(of: "ovf:capacity=\"2\"", with: "ovf:capacity=\"9000000000\"")
        #expect(throws: OVFEnvelope.Invalid.self) { try OVFEnvelope(xml: huge) }
        let mem = "<rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>9223372036854775807</rasd:VirtualQuantity>"
        #expect(try OVFEnvelope(xml: Self.ovf(memory: mem)).memoryMiB == 4_194_304)
    }
}
