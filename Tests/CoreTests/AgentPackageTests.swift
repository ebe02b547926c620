import Core
import Crypto
import Foundation
import Testing

/// Signed agent packages: what the agent and vigild accept and refuse.
struct AgentPackageTests {
    let key = Curve25519.Signing.PrivateKey()
    let binary = Array("\u{7F}ELF pretend agent build".utf8) + Array(repeating: 0xAB, count: 70_000)

    func package(version: String = "1.2.3", arch: String = "x86_64") throws -> [UInt8] {
        try AgentPackage.build(binary: binary, version: version, arch: arch, key: key)
    }

    @Test func roundTripVerifiesWithTheTrustedKey() throws {
        let (m, bin) = try AgentPackage.parse(try package())
        #expect(m.version == "1.2.3" && m.arch == "x86_64" && m.size == binary.count)
        #expect(Array(bin) == binary)
        #expect(m.keyID == AgentPackage.keyID(key.publicKey))
        try AgentPackage.verify(m, binary: bin, trusted: [key.publicKey])
    }

    @Test func tamperedBinaryIsRefused() throws {
        var bytes = try package()
        bytes[bytes.count - 10] ^= 0x01
        let (m, bin) = try AgentPackage.parse(bytes)
        #expect(throws: PackageError.hashMismatch) { try AgentPackage.verify(m, binary: bin, trusted: [key.publicKey]) }
    }

    @Test func editedManifestBreaksTheSignature() throws {
        var (m, bin) = try AgentPackage.parse(try package())
        m.version = "9.9.9"
        #expect(throws: PackageError.badSignature) { try AgentPackage.verify(m, binary: bin, trusted: [key.publicKey]) }
    }

    @Test func untrustedSignerAndUnsignedAreRefused() throws {
        let (m, bin) = try AgentPackage.parse(try package())
        let other = Curve25519.Signing.PrivateKey().publicKey
        #expect(throws: PackageError.untrustedKey(m.keyID)) { try AgentPackage.verify(m, binary: bin, trusted: [other]) }
        var unsigned = m
        unsigned.signature = ""
        #expect(throws: PackageError.unsigned) { try AgentPackage.verify(unsigned, binary: bin, trusted: [key.publicKey]) }
        #expect(throws: PackageError.sizeMismatch(expected: m.size, actual: bin.count - 1)) {
            try AgentPackage.verify(m, binary: bin.dropLast(), trusted: nil)
        }
    }

    @Test func notAPackage() {
        #expect(throws: PackageError.notAPackage) { try AgentPackage.parse(Array("#!/bin/sh\n".utf8)) }
    }

    @Test func versionsCompareNumerically() throws {
        let v = { (s: String) throws -> AgentVersion in try #require(AgentVersion(s)) }
        #expect(try v("0.1.10") > v("0.1.9"))
        #expect(try v("1.0") == v("1.0.0"))
        #expect(try v("0.1.0") < v("0.1.1"))
        #expect(AgentVersion("1.x") == nil)
        #expect(AgentVersion("") == nil)
    }

    /// Only dotted digits: a sign, an empty part or an overflowing part made
    /// "0.+5" equal "0.5" and "-1" a version before.
    @Test(arguments: ["+1", "-1", "0.+5", "1..2", ".1", "1.", "1.2.3.4.5", "9999999999", "1 .2", "١.٢"])
    func versionsRefuseWhatIsNotDottedDigits(_ text: String) {
        #expect(AgentVersion(text) == nil, "\(text)")
    }
}
