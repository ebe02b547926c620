import Core
import Glibc

// vigil-agent: the in-guest daemon. Kept Foundation-free and without
// swift-argument-parser so the binary stays small; it has four flags.

let usage = """
usage: vigil-agent [--channel NAME] [--device PATH] [--qga] [--version]
  --channel NAME   virtio-serial channel to use (default \(AgentProtocol.channelName))
  --device PATH    open PATH instead of looking the channel up in sysfs
  --qga            also serve the qemu-guest-agent protocol on org.qemu.guest_agent.0
                   (so virsh domtime, guestinfo, domifaddr --source agent, shutdown
                   --mode=agent, domfsfreeze work); skipped while qemu-ga holds the port
"""

var options = AgentOptions()
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--channel":
        guard let v = args.popFirst() else { fail("--channel needs a name") }
        options.channel = v
    case "--device":
        guard let v = args.popFirst() else { fail("--device needs a path") }
        options.device = v
    case "--qga":
        options.qga = true
    case "--version":
        print("vigil-agent \(VigilVersion.current)")
        exit(0)
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        fail("unknown argument '\(arg)'\n\(usage)")
    }
}

func fail(_ message: String) -> Never {
    log(message)
    exit(2)
}

Agent(options: options).run()
