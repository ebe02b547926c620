import Foundation
import FoundationXML

/// `XMLDocument(xmlString:)` for text from outside (OVF descriptors, template
/// definitions). FoundationXML dereferences the null document libxml2 returns
/// for some texts instead of throwing, killing vigild (found by fuzz/FuzzOVF
/// and fuzz/FuzzDomainXML): an empty text or one starting with NUL, and an XML
/// declaration naming an encoding libxml2 cannot convert. The text is already
/// Unicode, so its declaration says nothing: it is dropped and libxml2 reads UTF-8.
enum XMLText {
    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    static func document(_ xml: String, options: XMLNode.Options = []) throws -> XMLDocument {
        var text = Substring(xml)
        if text.first == "\u{FEFF}" { text = text.dropFirst() }
        if text.prefix(5).lowercased() == "<?xml" {
            guard let end = text.range(of: "?>") else { throw Unreadable(description: "its XML declaration does not end") }
            text = text[end.upperBound...]
        }
        guard !text.isEmpty, !text.utf8.contains(0) else {
            throw Unreadable(description: "empty, or holds a NUL byte")
        }
        return try XMLDocument(xmlString: String(text), options: options)
    }
}
