import ArgumentParser
import Core
import FoundationEssentials

extension VMCommand {
    struct Time: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "time",
            abstract: "Show a guest's clock offset from the host, or sync it now.",
            discussion: """
                The offset is measured over the agent channel NTP-style (the quickest of five \
                probes), so the channel's latency cancels out; its error is at most half the \
                round trip shown. With --sync the guest clock is stepped to the host's time and \
                measured again.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "VM name or UUID.") var vm: String
        @Flag(help: "Set the guest clock to the host's time now.") var sync = false

        func run() async throws {
            let path = "/v1/vms/\(vm.percentEscaped)/time" + (sync ? "/sync" : "")
            let response = sync ? try await global.client.send(method: .POST, path: path, body: nil)
                                : try await global.client.get(path)
            if global.json { return print(response.text) }
            let t = try response.decode(TimeStatus.self)
            if let before = t.offsetBeforeMs, let how = t.correction {
                print("\(t.vm): offset \(Self.ms(before)) → \(how) → \(Self.ms(t.offsetMs)) (±\(Self.plain(t.delayMs / 2)) ms)")
            } else {
                print("\(t.vm): guest clock is \(Self.ms(t.offsetMs)) from the host (±\(Self.plain(t.delayMs / 2)) ms); "
                      + "time sync \(t.timeSync ? "on" : "off")")
            }
        }

        static func plain(_ v: Double) -> String { TextFormat.fixed(v, places: 3) }
        static func ms(_ v: Double) -> String { (v >= 0 ? "+" : "") + plain(v) + " ms" }
    }
}
