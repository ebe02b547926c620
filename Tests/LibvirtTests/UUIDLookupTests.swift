@testable import Libvirt
import Testing

/// A name of 36 bytes that is no UUID is looked up as a name only (libvirt
/// answers "Invalid UUID", an internal error, for it as a UUID).
@Suite struct UUIDLookupTests {
    @Test func onlyRealUUIDsAreTriedAsUUIDs() {
        #expect(Connection.looksLikeUUID("6695eb01-f6a4-8304-79aa-97f2502e193f"))
        #expect(Connection.looksLikeUUID("6695EB01-F6A4-8304-79AA-97F2502E193F"))
        #expect(!Connection.looksLikeUUID("6695eb01-f6a4-8304-79aa-97f2502e193"))
        #expect(!Connection.looksLikeUUID("6695eb01xf6a4-8304-79aa-97f2502e193f"))
        #expect(!Connection.looksLikeUUID("6695eb01-f6a4-8304-79aa-97f2502e193g"))
        #expect(!Connection.looksLikeUUID("web server number thirty-six, rack 1"))
    }

    @Test func aNameOfUUIDLengthThatIsNoUUIDIsNotFound() throws {
        let conn = try Connection(uri: "test:///default")
        #expect(throws: LibvirtError.self) { try conn.domain(nameOrUUID: "web server number thirty-six, rack 1") }
        do {
            _ = try conn.domain(nameOrUUID: "web server number thirty-six, rack 1")
        } catch {
            #expect(error.code == .noDomain)
        }
    }
}
