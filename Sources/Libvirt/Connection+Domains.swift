import CLibvirt
import Glibc

extension Connection {
    public func domain(named name: String) throws(LibvirtError) -> Domain {
        guard let d = virDomainLookupByName(try raw("look up domain"), name) else {
            throw .capture("look up domain '\(name)'")
        }
        return Domain(owning: d, connection: self)
    }

    public func domain(uuid: String) throws(LibvirtError) -> Domain {
        guard let d = virDomainLookupByUUIDString(try raw("look up domain"), uuid) else {
            throw .capture("look up domain with UUID \(uuid)")
        }
        return Domain(owning: d, connection: self)
    }

    /// Looks a domain up by name or UUID, whichever `nameOrUUID` matches.
    public func domain(nameOrUUID: String) throws(LibvirtError) -> Domain {
        do {
            return try domain(named: nameOrUUID)
        } catch where error.code == .noDomain && Self.looksLikeUUID(nameOrUUID) {
            return try domain(uuid: nameOrUUID)
        }
    }

    /// `8-4-4-4-12` hex digits: anything else is only a name (libvirt would
    /// answer "Invalid UUID", an internal error, instead of "no domain").
    static func looksLikeUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        return bytes.enumerated().allSatisfy { i, b in
            [8, 13, 18, 23].contains(i) ? b == UInt8(ascii: "-")
                : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(b | 0x20)
        }
    }

    /// Defines (or redefines) a persistent domain from XML.
    @discardableResult
    public func define(xml: String) throws(LibvirtError) -> Domain {
        guard let d = virDomainDefineXML(try raw("define domain"), xml) else { throw .capture("define domain") }
        return Domain(owning: d, connection: self)
    }

    /// Creates and starts a transient domain from XML.
    @discardableResult
    public func createTransient(xml: String) throws(LibvirtError) -> Domain {
        guard let d = virDomainCreateXML(try raw("create domain"), xml, 0) else { throw .capture("create domain") }
        return Domain(owning: d, connection: self)
    }

    public struct ListFlags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let active = ListFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue)
        public static let inactive = ListFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_INACTIVE.rawValue)
        public static let persistent = ListFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_PERSISTENT.rawValue)
        public static let transient = ListFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_TRANSIENT.rawValue)
    }

    /// All domains matching `flags` (empty: all), sorted by name.
    public func domains(_ flags: ListFlags = []) throws(LibvirtError) -> [Domain] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = virConnectListAllDomains(try raw("list domains"), &list, flags.rawValue)
        guard n >= 0, let list else { throw .capture("list domains of \(uri)") }
        defer { free(list) }
        // Each element is a reference handed to us; Domain takes it over.
        let result = (0..<Int(n)).compactMap { i in list[i].map { Domain(owning: $0, connection: self) } }
        return result.sorted { $0.name < $1.name }
    }
}
