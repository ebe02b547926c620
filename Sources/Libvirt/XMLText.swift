/// Minimal lookups in libvirt-generated XML (trusted, well-formed output of
/// libvirtd). Callers that need more parse the XML properly.
enum XMLText {
    /// Text of the first `<name>…</name>` element, or nil.
    static func firstElement(_ name: String, in xml: String) -> String? {
        let open = Array("<\(name)>".utf8), close = Array("</\(name)>".utf8)
        let bytes = Array(xml.utf8)
        guard let start = find(open, in: bytes, from: 0) else { return nil }
        let bodyStart = start + open.count
        guard let end = find(close, in: bytes, from: bodyStart) else { return nil }
        return String(decoding: bytes[bodyStart..<end], as: UTF8.self)
    }

    /// `text` safe inside an element or a quoted attribute.
    static func escaped(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'": out += "&apos;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
