import AgentWire
import FoundationEssentials
import FuzzSupport

// Agent packages (`vigil agent repo add FILE`: a file an administrator
// downloads) and what the agent reads of an upgrade: AgentPackage.parse (the
// manifest line by JSONDecoder), the manifest's version (AgentVersion: vigild's
// repository and the agent both order packages by it) and base64 (the
// agent's own Base64 reads the signature, key files and every upgrade chunk,
// and vigild's verifier reads the signature with it too: whatever it reads,
// Foundation's Data(base64Encoded:) must read the same). What parses must build back
// into the same package. AgentPackageFormat.swift is Core's own file (a
// symlink); its signing half needs swift-crypto and is not fuzzed here.
@main
enum FuzzAgentPackage {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]  // as AgentPackage.build writes the manifest
        return e
    }()

    static func main() {
        FuzzMain.run { raw in
            let bytes = Array(raw)
            // The input as a package, and (whatever it is) as base64 text and a version.
            readPackage(bytes)
            let text = String(decoding: bytes.prefix(256), as: UTF8.self)
            base64(text)
            version(text)
        }
    }

    static func readPackage(_ bytes: [UInt8]) {
        guard let (manifest, binary) = try? AgentPackage.parse(bytes) else { return }
        precondition(bytes.starts(with: AgentPackage.magic), "a package without the magic parsed")
        version(manifest.version)
        base64(manifest.signature)
        guard let line = try? encoder.encode(manifest) else { preconditionFailure("a parsed manifest does not encode") }
        precondition(!line.contains(UInt8(ascii: "\n")), "an encoded manifest is not one line")
        let rebuilt = AgentPackage.magic + Array(line) + [UInt8(ascii: "\n")] + binary
        guard let (again, binaryAgain) = try? AgentPackage.parse(rebuilt) else { preconditionFailure("a rebuilt package does not parse") }
        precondition(again == manifest && binaryAgain.elementsEqual(binary), "a package changed when rebuilt")
    }

    static func base64(_ text: String) {
        // Foundation is the more lenient (a stray "=" after the padding, as in
        // fuzz/regressions/FuzzAgentPackage/extra-padding): never the other way.
        guard let mine = Base64.decode(text) else { return }
        precondition(Data(base64Encoded: text).map(Array.init) == mine, "Base64 and Data(base64Encoded:) read '\(text.prefix(80))' differently")
        precondition(Base64.decode(Base64.encode(mine)) == mine, "base64 round trip changed bytes")
    }

    static func version(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let dottedDigits = (1...4).contains(parts.count)
            && parts.allSatisfy { (1...9).contains($0.utf8.count) && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        guard let v = AgentVersion(text) else {
            precondition(!dottedDigits, "AgentVersion refused '\(text)'")
            return
        }
        precondition(dottedDigits, "AgentVersion read '\(text.prefix(80))', which is not dotted digits")
        precondition(v.parts.allSatisfy { $0 >= 0 } && v == v && !(v < v), "AgentVersion's order is broken for '\(text)'")
        let padded = AgentVersion(text + ".0")
        precondition(padded == nil || padded == v, "a trailing .0 changed the version '\(text)'")
    }
}
