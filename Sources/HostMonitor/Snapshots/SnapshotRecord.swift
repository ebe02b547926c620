import Foundation
import FoundationXML

/// One libvirt snapshot as Vigil reads its `<domainsnapshot>`: where it
/// sits in the tree, and for an external snapshot which image holds each
/// disk's state at that point (`frozen`: the image the VM ran on when it was
/// taken, read-only since) and where its memory went.
struct SnapshotRecord: Sendable, Equatable {
    struct Image: Sendable, Equatable {
        var path: String
        var format: String
    }

    var name: String
    var parent: String?
    var description: String?
    var created: Double
    var state: String
    /// The saved memory of an external memory snapshot.
    var memoryFile: String?
    var hasMemory: Bool
    var isExternal: Bool
    /// Per snapshotted disk (target): the image holding its state at the snapshot.
    var frozen: [String: Image]
    /// The domain's definition when it was taken.
    var domainXML: String?
    /// libvirt's text, kept to redefine the record (mark it current).
    var xml: String

    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    init(xml: String) throws {
        let doc: XMLDocument
        do { doc = try XMLText.document(xml) } catch {
            throw Unreadable(description: "libvirt gave an unreadable snapshot definition: \(error)")
        }
        func text(_ path: String) -> String? {
            ((try? doc.nodes(forXPath: path))?.first?.stringValue).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        func elements(_ path: String) -> [XMLElement] { ((try? doc.nodes(forXPath: path)) ?? []).compactMap { $0 as? XMLElement } }
        guard let name = text("/domainsnapshot/name"), !name.isEmpty else {
            throw Unreadable(description: "a snapshot definition without a name")
        }
        self.name = name
        self.xml = xml
        parent = text("/domainsnapshot/parent/name")
        description = text("/domainsnapshot/description")
        created = Double(text("/domainsnapshot/creationTime") ?? "") ?? 0
        state = text("/domainsnapshot/state") ?? "unknown"
        let memory = elements("/domainsnapshot/memory").first
        let memoryKind = memory?.attribute(forName: "snapshot")?.stringValue ?? "no"
        memoryFile = memoryKind == "external" ? memory?.attribute(forName: "file")?.stringValue : nil
        hasMemory = memoryKind != "no"
        let domain = elements("/domainsnapshot/domain").first
        domainXML = domain?.xmlString
        var external = memoryKind == "external"
        var frozen: [String: Image] = [:]
        let sources = Self.diskSources(domain)
        for disk in elements("/domainsnapshot/disks/disk") where disk.attribute(forName: "snapshot")?.stringValue == "external" {
            external = true
            guard let target = disk.attribute(forName: "name")?.stringValue, let image = sources[target] else { continue }
            frozen[target] = image
        }
        isExternal = external
        self.frozen = frozen
    }

    /// Target → image file of each file disk in a `<domain>` element.
    private static func diskSources(_ domain: XMLElement?) -> [String: Image] {
        var out: [String: Image] = [:]
        for disk in domain?.elements(forName: "devices").first?.elements(forName: "disk") ?? [] {
            guard let target = disk.elements(forName: "target").first?.attribute(forName: "dev")?.stringValue,
                  let file = disk.elements(forName: "source").first?.attribute(forName: "file")?.stringValue else { continue }
            let format = disk.elements(forName: "driver").first?.attribute(forName: "type")?.stringValue ?? "raw"
            out[target] = Image(path: file, format: format)
        }
        return out
    }

    /// `xml` (a `<domainsnapshot>`) with `parent` as its parent (nil: a root).
    static func reparented(_ xml: String, to parent: String?) throws -> String {
        let doc: XMLDocument
        do { doc = try XMLText.document(xml) } catch {
            throw Unreadable(description: "libvirt gave an unreadable snapshot definition: \(error)")
        }
        guard let root = doc.rootElement() else { throw Unreadable(description: "an empty snapshot definition") }
        for old in root.elements(forName: "parent") { old.detach() }
        if let parent {
            let p = XMLElement(name: "parent")
            p.addChild(XMLElement(name: "name", stringValue: parent))
            root.addChild(p)
        }
        return root.xmlString
    }
}
