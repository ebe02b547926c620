import AgentWire
import Glibc

// vigil-agent: the in-guest daemon. Kept Foundation-free and without
// swift-argument-parser so the binary stays small; it has a handful of flags.

let usage = """
usage: vigil-agent [--channel NAME] [--device PATH] [--qga] [--trust-key FILE] [--state-dir DIR] [--verifier PATH] [--version]
  --channel NAME   virtio-serial channel to use (default \(AgentProtocol.channelName))
  --device PATH    open PATH instead of looking the channel up in sysfs
  --trust-key FILE accept agent upgrades signed by this Ed25519 public key (base64;
                   repeatable; default \(AgentOptions.defaultTrustKey) when present)
  --state-dir DIR  where upgrade downloads are staged (default /var/lib/vigil-agent)
  --verifier PATH  the package checker run during upgrades (default vigil-agent-verify
                   next to this binary)
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
    case "--trust-key":
        guard let v = args.popFirst() else { fail("--trust-key needs a file") }
        options.trustKeyFiles.append(v)
    case "--state-dir":
        guard let v = args.popFirst() else { fail("--state-dir needs a directory") }
        options.stateDirectory = v
    case "--verifier":
        guard let v = args.popFirst() else { fail("--verifier needs a path") }
        options.verifier = v
    case "--upgrade-trial-fd":
        guard let v = args.popFirst().flatMap(Int32.init) else { fail("--upgrade-trial-fd needs a descriptor") }
        options.upgradeTrialFD = v
    case "--version":
        print("vigil-agent \(AgentBuild.version)")
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
