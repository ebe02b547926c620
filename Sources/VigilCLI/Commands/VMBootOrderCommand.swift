import ArgumentParser
import Core
import FoundationEssentials

extension VMCommand {
    struct BootOrderCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "boot-order",
            abstract: "Show or set the boot device order (hd, cdrom, network, fd); a running VM uses it from its next boot.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Argument(help: "Devices, first tried first, comma-separated, e.g. cdrom,hd.") var devices: String?

        func run() async throws {
            let path = "/v1/vms/\(vm.percentEscaped)/boot-order"
            let response: APIClient.Response
            if let devices {
                let body = BootOrder(devices: devices.split(separator: ",").map { String($0).trimmed() })
                response = try await global.client.send(method: .PUT, path: path, body: Array(try JSONEncoder().encode(body)))
            } else {
                response = try await global.client.get(path)
            }
            if global.json { return print(response.text) }
            let order = try response.decode(BootOrder.self)
            print("\(order.vm ?? vm): boot order \(order.devices.joined(separator: ", "))" + (order.effective.map { " (effective \($0))" } ?? ""))
        }
    }
}
