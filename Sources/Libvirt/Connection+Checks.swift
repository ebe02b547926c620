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

    /// Whether this host's hypervisor can give a guest of `virtType`
    /// (`kvm`, or `qemu` for TCG) the CPU described by `cpuXML` (a `<cpu>`
    /// element): what QEMU can provide there, not the bare host CPU.
    public func canRun(cpuXML: String, virtType: String, arch: String = "x86_64") throws(LibvirtError) -> Bool {
        let ptr = try raw("compare CPU")
        let result = virConnectCompareHypervisorCPU(ptr, nil, arch, nil, virtType, cpuXML, 0)
        if result < 0 { throw .capture("compare a guest CPU with the host's") }
        return result != VIR_CPU_COMPARE_INCOMPATIBLE.rawValue
    }
}
