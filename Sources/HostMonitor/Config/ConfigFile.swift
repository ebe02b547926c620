import Foundation
import Yams

/// `vigild.yaml`: a YAML mapping whose keys are vigild's long option names
/// (`state-dir: /var/lib/vigil`); repeatable options take a list. Anything
/// else (an unknown key, a value of the wrong kind, bad YAML) is refused
/// with the file, the line and the key.
public enum ConfigFile {
    public static let defaultPath = "/etc/vigil/vigild.yaml"

    /// Reads the file; a missing file is an error only when `required`
    /// (named with `--config`), otherwise vigild runs on its defaults.
    public static func load(path: String, required: Bool) throws(ConfigError) -> ConfigLayer {
        guard FileManager.default.fileExists(atPath: path) else {
            if !required { return ConfigLayer() }
            throw ConfigError(path, "no such configuration file",
                              hint: "create it (see docs/operations.md) or leave out --config to use \(defaultPath)")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(path, "cannot read the configuration file: \(error.localizedDescription)",
                              hint: "check that it exists and that vigild may read it")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigError) -> ConfigLayer {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw yamlError(error, path: path)
        }
        guard let root else { return ConfigLayer() }  // empty, or only comments
        guard case .mapping(let mapping) = root else {
            throw ConfigError("\(path) line \(root.mark?.line ?? 1)", "the file must be a mapping of settings",
                              hint: "write one 'key: value' per line, e.g. 'connect: qemu:///system'")
        }
        var layer = ConfigLayer()
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line ?? 0
            guard let name = keyNode.scalar?.string else {
                throw ConfigError("\(path) line \(line)", "a key must be a plain name", hint: nil)
            }
            guard let key = ConfigKeys.named(name) else {
                let hint = ConfigKeys.nearest(to: name).map { "did you mean '\($0)'?" }
                    ?? "the keys are vigild's long option names without '--' (vigild --help)"
                throw ConfigError("\(path) line \(line): key '\(name)'", "unknown key", hint: hint)
            }
            guard layer[name] == nil else {
                throw ConfigError("\(path) line \(line): key '\(name)'", "given twice", hint: "keep one of them")
            }
            let origin = ConfigEntry.Origin.file(path: path, line: valueNode.mark?.line ?? line)
            layer.set(name, try value(of: valueNode, for: key, at: ConfigEntry(.string(""), from: origin).place(name)),
                      from: origin)
        }
        return layer
    }

    static func value(of node: Node, for key: ConfigKey, at place: String) throws(ConfigError) -> ConfigEntry.Value {
        if key.kind == .list {
            switch node {
            case .sequence(let items):
                var strings: [String] = []
                for item in items {
                    guard let s = item.scalar?.string else {
                        throw ConfigError(place, "each item of the list must be a plain value", hint: nil)
                    }
                    strings.append(s)
                }
                return .list(strings)
            case .scalar(let s): return .list([s.string])
            default: throw ConfigError(place, "expected a list", hint: "write '\(key.name): [a, b]' or one '- item' per line")
            }
        }
        guard let scalar = node.scalar else {
            throw ConfigError(place, "expected a single value, got a \(node.isMapping ? "mapping" : "list")", hint: nil)
        }
        switch key.kind {
        case .string:
            return .string(scalar.string)
        case .integer:
            guard let i = Int(scalar.string) else {
                throw ConfigError(place, "expected a whole number, got '\(scalar.string)'", hint: nil)
            }
            return .integer(i)
        case .number:
            guard let d = Double(scalar.string), d.isFinite else {
                throw ConfigError(place, "expected a number, got '\(scalar.string)'", hint: nil)
            }
            return .number(d)
        case .list:
            return .list([scalar.string])
        }
    }

    static func yamlError(_ error: any Error, path: String) -> ConfigError {
        let hint = "fix the YAML syntax there (indentation with spaces, 'key: value')"
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            let firstLine = problem.split(separator: "\n").first.map(String.init) ?? problem
            return ConfigError("\(path) line \(mark.line)", "not valid YAML: \(firstLine)", hint: hint)
        default:
            return ConfigError(path, "not valid YAML: \(error)", hint: hint)
        }
    }
}

extension Node {
    fileprivate var isMapping: Bool { if case .mapping = self { true } else { false } }
}
