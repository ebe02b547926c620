import Foundation

/// The directories every host of the cluster sees at the same path
/// (`vigild --shared-storage`).
struct SharedStorage: Sendable {
    let directories: [String]

    var isEmpty: Bool { directories.isEmpty }

    /// Whether `path` lies in one of the directories (compared as standardized paths).
    func contains(_ path: String) -> Bool {
        let p = URL(fileURLWithPath: path).standardized.path
        return directories.contains { dir in
            let d = URL(fileURLWithPath: dir).standardized.path
            return p == d || p.hasPrefix(d.hasSuffix("/") ? d : d + "/")
        }
    }
}
