import CLibvirt
import Glibc

/// Memory images written by a save or an external memory snapshot.
extension Connection {
    /// Starts a domain from a saved memory image (`virsh restore`), with
    /// `xml` as its definition (e.g. the same VM on other disk images).
    public func restore(from file: String, xml: String?, paused: Bool) throws(LibvirtError) {
        let flags = paused ? VIR_DOMAIN_SAVE_PAUSED.rawValue : VIR_DOMAIN_SAVE_RUNNING.rawValue
        if virDomainRestoreFlags(try raw("restore domain"), file, xml, UInt32(flags)) < 0 {
            throw .capture("restore a domain from \(file):")
        }
    }

    /// The definition saved with a memory image (migratable form), to start it on other disks.
    public func savedImageXML(_ file: String) throws(LibvirtError) -> String {
        guard let c = virDomainSaveImageGetXMLDesc(try raw("read saved image"), file, UInt32(VIR_DOMAIN_SAVE_IMAGE_XML_SECURE.rawValue)) else {
            throw .capture("read the definition saved in \(file):")
        }
        defer { free(c) }
        return String(cString: c)
    }
}
