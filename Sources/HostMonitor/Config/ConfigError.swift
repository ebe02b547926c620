/// A setting that cannot be used: where it is (option, or file, line and
/// key), what is wrong, and what to do.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let place: String
    public let problem: String
    public let hint: String?

    public init(_ place: String, _ problem: String, hint: String? = nil) {
        self.place = place
        self.problem = problem
        self.hint = hint
    }

    public var description: String {
        "\(place): \(problem)" + (hint.map { "\nhint: \($0)" } ?? "")
    }
}
