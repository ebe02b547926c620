import CLibvirt

/// Virtual hardware changes: vCPUs, memory, devices, disk sizes. Each takes
/// where it applies (`.live`, `.config`, both); libvirt refuses what the
/// hypervisor cannot do live, and its error says why.
extension Domain {
    /// Flags for `setVcpus` and `vcpuCount`.
    public struct VcpuFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let live = VcpuFlags(rawValue: VIR_DOMAIN_VCPU_LIVE.rawValue)
        public static let config = VcpuFlags(rawValue: VIR_DOMAIN_VCPU_CONFIG.rawValue)
        /// The maximum (`<vcpu>`) instead of the current count (`current=`).
        public static let maximum = VcpuFlags(rawValue: VIR_DOMAIN_VCPU_MAXIMUM.rawValue)
        /// What the guest has online, through the qemu guest agent.
        public static let guest = VcpuFlags(rawValue: VIR_DOMAIN_VCPU_GUEST.rawValue)
    }

    /// Sets the number of vCPUs (or their maximum, with `.maximum`).
    public func setVcpus(_ count: Int, _ flags: VcpuFlags) throws(LibvirtError) {
        guard let n = UInt32(exactly: count) else { throw LibvirtError(code: .invalidArgument, domain: .none, message: "vCPU count \(count) out of range", operation: "set vCPUs of domain '\(name)'") }
        try check(virDomainSetVcpusFlags(ptr, n, flags.rawValue), "set vCPUs of")
    }

    public func vcpuCount(_ flags: VcpuFlags) throws(LibvirtError) -> Int {
        let n = virDomainGetVcpusFlags(ptr, flags.rawValue)
        if n < 0 { throw .capture("get vCPU count of domain '\(name)'") }
        return Int(n)
    }

    /// Flags for `setMemory`.
    public struct MemoryFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let live = MemoryFlags(rawValue: VIR_DOMAIN_MEM_LIVE.rawValue)
        public static let config = MemoryFlags(rawValue: VIR_DOMAIN_MEM_CONFIG.rawValue)
        /// The maximum (`<memory>`) instead of the current size (`<currentMemory>`, the balloon).
        public static let maximum = MemoryFlags(rawValue: VIR_DOMAIN_MEM_MAXIMUM.rawValue)
    }

    public func setMemory(kib: UInt64, _ flags: MemoryFlags) throws(LibvirtError) {
        try check(virDomainSetMemoryFlags(ptr, UInt(kib), flags.rawValue), "set memory of")
    }

    /// Adds a device (`<disk>`, `<interface>`, … XML).
    public func attachDevice(xml: String, affect: Affect) throws(LibvirtError) {
        try check(virDomainAttachDeviceFlags(ptr, xml, affect.rawValue), "attach a device to")
    }

    /// Removes a device. Live removal needs the guest's consent: QEMU asks
    /// and libvirt waits a few seconds, so the device may still be there
    /// when this returns (check the live XML).
    public func detachDevice(xml: String, affect: Affect) throws(LibvirtError) {
        try check(virDomainDetachDeviceFlags(ptr, xml, affect.rawValue), "detach a device from")
    }

    /// Sizes of a disk, by target (`vda`) or source path.
    public struct BlockInfo: Sendable, Equatable {
        /// What the guest sees.
        public var capacity: UInt64
        /// Host storage in use.
        public var allocation: UInt64
        public var physical: UInt64
    }

    public func blockInfo(_ disk: String) throws(LibvirtError) -> BlockInfo {
        var i = virDomainBlockInfo()
        try check(virDomainGetBlockInfo(ptr, disk, &i, 0), "get size of disk \(disk) of")
        return BlockInfo(capacity: UInt64(i.capacity), allocation: UInt64(i.allocation), physical: UInt64(i.physical))
    }

    /// Grows (or shrinks) a running domain's disk to `bytes`; the guest sees
    /// the new capacity at once (virtio).
    public func blockResize(_ disk: String, bytes: UInt64) throws(LibvirtError) {
        try check(virDomainBlockResize(ptr, disk, bytes, VIR_DOMAIN_BLOCK_RESIZE_BYTES.rawValue), "resize disk \(disk) of")
    }
}
