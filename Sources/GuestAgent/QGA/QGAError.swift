import AgentWire
import Glibc

/// An error as QGA reports it: `{"error": {"class": …, "desc": …}}`.
/// Modern QEMU uses only GenericError and CommandNotFound for the agent;
/// libvirt treats CommandNotFound as "not supported" where info is optional.
struct QGAError: Error, Equatable {
    enum Class: String {
        case genericError = "GenericError"
        case commandNotFound = "CommandNotFound"
    }

    let errorClass: Class
    let desc: String

    init(_ desc: String, class errorClass: Class = .genericError) {
        self.errorClass = errorClass
        self.desc = desc
    }

    static func invalidParameter(_ name: String) -> QGAError {
        QGAError("Invalid parameter '\(name)'")
    }

    /// A failed system call, with errno's text as qemu-ga gives it.
    static func system(_ what: String, errno code: Int32) -> QGAError {
        QGAError("\(what): \(String(cString: strerror(code)))")
    }

    var json: JSONValue {
        ["class": .string(errorClass.rawValue), "desc": .string(desc)]
    }
}
