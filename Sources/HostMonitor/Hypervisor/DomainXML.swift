import Core
import Foundation

/// Facts read from domain XML that libvirtd produced (trusted input: never
/// guest-controlled). A scan of attributes is enough for these fields.
enum DomainXML {
    /// The host-side unix socket of the virtio channel named `name`, as
    /// libvirt filled it in for a running domain.
    static func channelSocketPath(in xml: String, channelName: String) -> String? {
        for block in elements("channel", in: xml) where block.contains("name='\(channelName)'") {
            if let path = attribute("path", inFirst: "source", of: block) { return path }
        }
        return nil
    }

    /// Whether the domain has a virtio channel named `name` at all.
    static func hasChannel(in xml: String, channelName: String) -> Bool {
        elements("channel", in: xml).contains { $0.contains("name='\(channelName)'") }
    }

    /// Makes a persistent definition protectable: the guest's panics reach
    /// libvirt (`<panic>`, x86 ISA pvpanic), a crashed guest is kept for
    /// vigild to decide (`on_crash=preserve`), and the agent channel exists.
    /// Returns the new XML and what changed (empty when nothing did).
    static func protectionFixups(_ xml: String) -> (xml: String, changes: [String]) {
        var out = xml
        var changes: [String] = []
        guard let devicesEnd = out.range(of: "</devices>") else { return (xml, []) }
        var additions = ""
        let x86 = out.contains("arch='x86_64'") || out.contains("arch='i686'")
            || out.contains("arch=\"x86_64\"") || out.contains("arch=\"i686\"")
        let panics = panicModels(in: out)
        let hyperV = panics.filter { $0 == "hyperv" }.count
        if x86 && panics.count == hyperV {
            additions += "<panic model='isa'/>"
            changes.append("added pvpanic device")
        }
        // Windows also reports its bugcheck code through Hyper-V's crash registers.
        if x86 && isWindows(out) && hyperV == 0 {
            additions += "<panic model='hyperv'/>"
            changes.append("added Hyper-V crash reporting (Windows bugcheck codes)")
        }
        if !hasChannel(in: out, channelName: AgentProtocol.channelName) {
            additions += "<channel type='unix'><source mode='bind'/>"
                + "<target type='virtio' name='\(AgentProtocol.channelName)'/></channel>"
            changes.append("added agent channel \(AgentProtocol.channelName)")
        }
        if !additions.isEmpty { out.replaceSubrange(devicesEnd, with: additions + "</devices>") }
        if let open = out.range(of: "<on_crash>"), let close = out.range(of: "</on_crash>", range: open.upperBound..<out.endIndex) {
            if out[open.upperBound..<close.lowerBound] != "preserve" {
                out.replaceSubrange(open.upperBound..<close.lowerBound, with: "preserve")
                changes.append("set on_crash to preserve")
            }
        } else if let devices = out.range(of: "<devices>") {
            out.replaceSubrange(devices, with: "<on_crash>preserve</on_crash><devices>")
            changes.append("set on_crash to preserve")
        }
        return (out, changes)
    }

    /// A Windows guest: Hyper-V enlightenments (`<hyperv>` features, what
    /// virt-install and virt-manager give Windows) or libosinfo naming a
    /// Microsoft OS.
    static func isWindows(_ xml: String) -> Bool {
        xml.contains("<hyperv") || xml.contains("microsoft.com/win")
    }

    /// The model of each `<panic>` device (nil: libvirt's default).
    static func panicModels(in xml: String) -> [String?] {
        var models: [String?] = []
        var rest = xml[...]
        while let start = rest.range(of: "<panic") {
            let tagEnd = rest.range(of: ">", range: start.upperBound..<rest.endIndex)?.upperBound ?? rest.endIndex
            let tag = rest[start.lowerBound..<tagEnd]
            if tag.count > 6, [" ", "/", ">"].contains(tag[tag.index(start.lowerBound, offsetBy: 6)]) {
                models.append(attribute("model", inFirst: "panic", of: tag))
            }
            rest = rest[tagEnd...]
        }
        return models
    }

    /// Paths of the file-backed disks (`<disk type='file'>` sources).
    static func diskSources(in xml: String) -> [String] {
        elements("disk", in: xml).compactMap { attribute("file", inFirst: "source", of: $0) }
    }

    /// `<blkiotune><weight>N</weight>`, nil when libvirt's default applies.
    static func blkioWeight(in xml: String) -> Int? {
        // Per-device weights (`<device><weight>`) come after the domain's own.
        guard let whole = elements("blkiotune", in: xml).first else { return nil }
        let tune = whole.range(of: "<device>").map { whole[..<$0.lowerBound] } ?? whole
        guard let open = tune.range(of: "<weight>"), let close = tune.range(of: "</weight>", range: open.upperBound..<tune.endIndex)
        else { return nil }
        return Int(tune[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
    }

    /// The text of each `<tag …>…</tag>` element (not nested in itself).
    static func elements(_ tag: String, in xml: String) -> [Substring] {
        var result: [Substring] = []
        var rest = xml[...]
        while let start = rest.range(of: "<\(tag) ") ?? rest.range(of: "<\(tag)>") {
            guard let end = rest.range(of: "</\(tag)>", range: start.upperBound..<rest.endIndex) else { break }
            result.append(rest[start.lowerBound..<end.upperBound])
            rest = rest[end.upperBound...]
        }
        return result
    }

    /// `name='value'` of the first `<element …>` inside `block`.
    static func attribute(_ name: String, inFirst element: String, of block: Substring) -> String? {
        guard let open = block.range(of: "<\(element) ") else { return nil }
        guard let close = block.range(of: ">", range: open.upperBound..<block.endIndex) else { return nil }
        let tag = block[open.upperBound..<close.lowerBound]
        for quote in ["'", "\""] {
            if let a = tag.range(of: "\(name)=\(quote)"),
               let b = tag.range(of: quote, range: a.upperBound..<tag.endIndex) {
                return unescape(String(tag[a.upperBound..<b.lowerBound]))
            }
        }
        return nil
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
