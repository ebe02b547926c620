import Foundation

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}

extension Duration {
    var seconds: Double { milliseconds / 1000 }
}

extension Duration {
    /// "3.5": seconds with one decimal, for messages.
    var secondsText: String { String(format: "%.1f", seconds) }
}
