/// Guest disk names (`vda`, `sdb`, `hdc`): one letter per disk after the
/// bus's prefix, as libvirt names them.
enum DiskTargets {
    static let letters = "abcdefghijklmnopqrstuvwxyz"

    /// The first name with `prefix` (e.g. "vd") that `used` does not hold; nil when all 26 are taken.
    static func free(_ prefix: String, used: Set<String>) -> String? {
        letters.lazy.map { "\(prefix)\($0)" }.first { !used.contains($0) }
    }

    /// The `index`-th virtio disk's name (0 → vda), nil past vdz.
    static func virtio(_ index: Int) -> String? {
        guard letters.indices.count > index, index >= 0 else { return nil }
        return "vd" + String(letters[letters.index(letters.startIndex, offsetBy: index)])
    }
}
