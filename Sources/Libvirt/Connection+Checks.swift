import CLibvirt

/// What another host can offer a VM that would move there.
extension Connection {
    /// Whether this host has a libvirt network of that name.
    public func hasNetwork(named name: String) throws(LibvirtError) -> Bool {
        let ptr = try raw("look up network")
        guard let net = virNetworkLookupByName(ptr, name) else {
            let error = LibvirtError.capture("look up network '\(name)'")
            if error.code == .noNetwork { return false }
            throw error
        }
        virNetworkFree(net)
        return true
    }

    /// Whether this host's CPU can run a guest CPU described by `cpuXML` (a `<cpu>` element).
    public func canRun(cpuXML: String) throws(LibvirtError) -> Bool {
        let ptr = try raw("compare CPU")
        let result = virConnectCompareCPU(ptr, cpuXML, 0)
        if result < 0 { throw .capture("compare a guest CPU with the host's") }
        return result != VIR_CPU_COMPARE_INCOMPATIBLE.rawValue
    }
}
