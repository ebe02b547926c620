/// Reads typed values out of a merged layer, with each key's default;
/// a value out of range is refused naming where it was set.
struct SettingsReader {
    let layer: ConfigLayer

    func place(_ key: String) -> String { layer[key]?.place(key) ?? "--\(key)" }

    func string(_ key: String) -> String? {
        if case .string(let s)? = layer[key]?.value { return s }
        return nil
    }

    func list(_ key: String) -> [String] {
        if case .list(let l)? = layer[key]?.value { return l }
        return []
    }

    func integer(_ key: String) -> Int? {
        if case .integer(let i)? = layer[key]?.value { return i }
        return nil
    }

    func number(_ key: String) -> Double? {
        switch layer[key]?.value {
        case .number(let d)?: d
        case .integer(let i)?: Double(i)
        default: nil
        }
    }

    func integer(_ key: String, default value: Int, in range: ClosedRange<Int>, unit: String = "") throws(ConfigError) -> Int {
        let v = integer(key) ?? value
        guard range.contains(v) else {
            throw ConfigError(place(key), "must be \(range.lowerBound) to \(range.upperBound)\(unit), got \(v)")
        }
        return v
    }

    func positive(_ key: String) throws(ConfigError) -> Double? {
        guard let v = number(key) else { return nil }
        guard v > 0 else { throw ConfigError(place(key), "must be above 0, got \(v)") }
        return v
    }

    func choice<T>(_ key: String, default value: T, _ parse: (String) -> T?, names: String) throws(ConfigError) -> T {
        guard let s = string(key) else { return value }
        guard let v = parse(s) else { throw ConfigError(place(key), "must be one of \(names), got '\(s)'") }
        return v
    }
}
