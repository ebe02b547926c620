/// The shape of a VM's snapshot tree, from each snapshot's parent: listing
/// order (depth-first, siblings oldest first) and what a subtree holds.
/// Pure, so it is tested without libvirt.
struct SnapshotTree: Sendable {
    struct Node: Sendable, Equatable {
        var name: String
        var parent: String?
        var created: Double
    }

    private let nodes: [String: Node]
    private let children: [String: [String]]
    let roots: [String]

    init(_ list: [Node]) {
        var nodes: [String: Node] = [:]
        for n in list { nodes[n.name] = n }
        var children: [String: [String]] = [:]
        var roots: [String] = []
        let order = list.sorted { ($0.created, $0.name) < ($1.created, $1.name) }
        for n in order {
            // A parent libvirt no longer knows makes its child a root.
            if let p = n.parent, nodes[p] != nil { children[p, default: []].append(n.name) } else { roots.append(n.name) }
        }
        self.nodes = nodes
        self.children = children
        self.roots = roots
    }

    func children(of name: String) -> [String] { children[name] ?? [] }

    func parent(of name: String) -> String? { nodes[name]?.parent.flatMap { nodes[$0] != nil ? $0 : nil } }

    /// Every snapshot with its depth, parents before children.
    var ordered: [(name: String, depth: Int)] {
        var out: [(String, Int)] = []
        func walk(_ n: String, _ depth: Int) {
            out.append((n, depth))
            for c in children(of: n) { walk(c, depth + 1) }
        }
        for r in roots { walk(r, 0) }
        return out
    }

    /// `name` and everything below it, leaves first (the order to delete in).
    func subtree(_ name: String) -> [String] {
        var out: [String] = []
        func walk(_ n: String) {
            for c in children(of: n) { walk(c) }
            out.append(n)
        }
        walk(name)
        return out
    }
}
