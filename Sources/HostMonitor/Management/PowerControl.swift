import Core
import Libvirt

/// Power actions on a VM, with the checks an administrator expects: a hard
/// power-off must be forced, and an action that does not fit the VM's state
/// says what would.
enum PowerControl {
    static func perform(_ action: PowerAction, force: Bool, on dom: Domain) throws {
        let state = try dom.state().state
        func need(_ ok: Bool, _ why: String, _ hint: String) throws {
            if !ok { throw APIError.conflict("cannot \(action.rawValue) \(dom.name): \(why)", hint: hint) }
        }
        let running = state == .running || state == .blocked
        switch action {
        case .start:
            try need(state == .shutoff || state == .crashed, "it is \(state)", state == .paused ? "use resume" : "it is already on")
            try need(!dom.hasManagedSaveImage, "it is hibernated", "use wake to restore its memory, or discard it with virsh managedsave-remove")
            try dom.create()
        case .wake:
            try need(state == .shutoff && dom.hasManagedSaveImage, "it is not hibernated (\(state))", "use start")
            try dom.create()
        case .shutdown:
            try need(running, "it is \(state)", "only a running VM can shut down")
            try dom.shutdown()   // the driver's default: ACPI for QEMU
        case .shutdownAgent:
            try need(running, "it is \(state)", "only a running VM can shut down")
            try dom.shutdown(mode: .guestAgent)
        case .poweroff:
            try need(force, "powering off at once can lose the guest's unsaved data",
                     "ask the guest with 'vigil vm shutdown', or pass --force")
            try need(state != .shutoff, "it is already off", "nothing to do")
            try dom.destroy()
        case .pause:
            try need(running, "it is \(state)", "only a running VM can be paused")
            try dom.suspend()
        case .resume:
            try need(state == .paused, "it is \(state), not paused", state == .shutoff ? "use start" : "nothing to do")
            try dom.resume()
        case .hibernate:
            try need(running || state == .paused, "it is \(state)", "only a running or paused VM can hibernate")
            try dom.managedSave()
        case .reboot:
            try need(running, "it is \(state)", "use start")
            try dom.reboot()
        }
    }
}
