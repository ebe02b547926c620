/// `GET/PUT /v1/vms/{vm}/boot-order` body: boot devices, first tried first.
public struct BootOrder: Codable, Sendable, Equatable {
    public static let devices = ["hd", "cdrom", "network", "fd"]

    public var vm: String?
    public var devices: [String]
    /// In replies: "next boot" when the VM is running (the change is to its
    /// persistent definition), else "now".
    public var effective: String?

    public init(vm: String? = nil, devices: [String], effective: String? = nil) {
        self.vm = vm
        self.devices = devices
        self.effective = effective
    }
}
