import CLibvirt
import Glibc

/// Title, description, block I/O weight and snapshot count: the settings
/// libvirt itself keeps for a domain.
extension Domain {
    private func text(_ type: virDomainMetadataType, _ what: String, affect: Affect) throws(LibvirtError) -> String? {
        guard let c = virDomainGetMetadata(ptr, Int32(type.rawValue), nil, affect.rawValue) else {
            let err = LibvirtError.capture("get \(what) of domain '\(name)'")
            if err.code == .noDomainMetadata { return nil }
            throw err
        }
        defer { free(c) }
        return String(cString: c)
    }

    /// The `<title>` (a short one-line name for people), nil when none.
    public func title(affect: Affect = .current) throws(LibvirtError) -> String? {
        try text(VIR_DOMAIN_METADATA_TITLE, "title", affect: affect)
    }

    /// The `<description>`, nil when none.
    public func description(affect: Affect = .current) throws(LibvirtError) -> String? {
        try text(VIR_DOMAIN_METADATA_DESCRIPTION, "description", affect: affect)
    }

    /// Sets the `<title>`; nil or empty removes it (libvirt refuses newlines).
    public func setTitle(_ text: String?, affect: Affect = .current) throws(LibvirtError) {
        let rc = virDomainSetMetadata(ptr, Int32(VIR_DOMAIN_METADATA_TITLE.rawValue), text?.isEmpty == true ? nil : text,
                                      nil, nil, affect.rawValue)
        if rc < 0 { throw .capture("set title of domain '\(name)'") }
    }

    /// Sets `<blkiotune><weight>` (100-1000): the domain's share of disk
    /// bandwidth against other domains (cgroup blkio weight when running).
    public func setBlkioWeight(_ weight: UInt32, affect: Affect = .current) throws(LibvirtError) {
        var params: UnsafeMutablePointer<virTypedParameter>?
        var count: Int32 = 0, capacity: Int32 = 0
        // virTypedParamsAddUInt allocates the array; virTypedParamsFree releases it and its strings.
        defer { virTypedParamsFree(params, count) }
        guard virTypedParamsAddUInt(&params, &count, &capacity, VIR_DOMAIN_BLKIO_WEIGHT, weight) == 0 else {
            throw .capture("build blkio parameters for domain '\(name)'")
        }
        if virDomainSetBlkioParameters(ptr, params, count, affect.rawValue) < 0 {
            throw .capture("set I/O weight of domain '\(name)'")
        }
    }

    /// How many snapshots libvirt knows for the domain.
    public var snapshotCount: Int {
        get throws(LibvirtError) {
            let n = virDomainSnapshotNum(ptr, 0)
            if n < 0 { throw .capture("count snapshots of domain '\(name)'") }
            return Int(n)
        }
    }
}
