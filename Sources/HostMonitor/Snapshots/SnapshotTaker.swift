import Core
import Foundation
import Libvirt

/// Takes one external snapshot through libvirt: each disk's current image
/// becomes read-only (the snapshot's state) and the VM goes on on a new
/// qcow2 overlay; a memory snapshot also saves the memory, live, into a
/// file. Vigil watches a memory snapshot and pauses the VM at the timeout
/// so it completes (CAS's rule), resuming it afterwards.
struct SnapshotTaker: Sendable {
    let executor: BlockingExecutor
    let center: ProtectionCenter

    struct Plan: Sendable {
        var domain: Domain
        var uri: String
        var request: SnapshotRequest
        var running: Bool
        /// Target → the overlay the disk continues on.
        var overlays: [String: String]
        /// Disks left as they are (CD-ROMs, shared and read-only disks).
        var untouched: [String]
        var memoryFile: String?
        /// The VM has a qemu-guest-agent channel (libvirt freezes filesystems through it).
        var hasGuestAgentChannel: Bool
    }

    /// Returns a note for the operation (how it went).
    func perform(_ plan: Plan, _ ctx: OperationContext) async throws -> String {
        let dom = plan.domain, uuid = dom.uuid, r = plan.request
        for path in plan.overlays.values.sorted() {
            // Used by the domain once libvirt switched it over: the snapshot happened.
            try ctx.willDo(.removeFileUnlessUsed(path: path, domainUUID: uuid, uri: plan.uri))
        }
        if let m = plan.memoryFile {
            try ctx.willDo(.removeFileUnlessSnapshot(path: m, domainUUID: uuid, uri: plan.uri, snapshot: r.name))
        }
        let xml = Self.definition(plan)
        let flags: Domain.SnapshotCreateFlags = plan.memoryFile != nil ? [.atomic, .live] : [.atomic, .diskOnly]
        if plan.memoryFile != nil {
            let paused = try await takeWatched(dom, xml: xml, flags: flags, timeout: r.timeoutSeconds, ctx: ctx)
            return paused ? "memory snapshot: the VM was paused at the \(r.timeoutSeconds ?? 0) s timeout so it completed, then resumed" : "memory snapshot taken live"
        }
        let quiesce = plan.running && plan.hasGuestAgentChannel && r.quiesce != false
        if plan.running && r.quiesce == true && !plan.hasGuestAgentChannel {
            throw APIError.conflict("\(dom.name) has no qemu-guest-agent channel, so its filesystems cannot be frozen",
                                    hint: "add the channel (vigil policy set adds Vigil's; qemu-ga or vigil-agent --qga serves org.qemu.guest_agent.0), or leave out --quiesce")
        }
        guard quiesce else {
            try await executor.run { _ = try dom.createSnapshot(xml: xml, flags) }
            return plan.running ? "disk-only snapshot (not quiesced)" : "disk snapshot of the shut-off VM"
        }
        do {
            try await executor.run { _ = try dom.createSnapshot(xml: xml, flags.union(.quiesce)) }
            return "disk-only snapshot, filesystems frozen and thawed by the guest agent"
        } catch let e as LibvirtError where r.quiesce == nil && Self.isAgentFailure(e) {
            // Asked for nothing in particular: a crash-consistent snapshot beats none.
            try await executor.run { _ = try dom.createSnapshot(xml: xml, flags) }
            return "disk-only snapshot, not quiesced: the guest agent did not answer (\(e.message))"
        }
    }

    static func isAgentFailure(_ e: LibvirtError) -> Bool {
        e.code == .agentUnresponsive || e.message.localizedCaseInsensitiveContains("agent")
    }

    /// A live memory snapshot, with progress and the timeout; returns
    /// whether the timeout paused the VM.
    private func takeWatched(_ dom: Domain, xml: String, flags: Domain.SnapshotCreateFlags, timeout: Int?,
                             ctx: OperationContext) async throws -> Bool {
        let paused = PauseFlag(), executor = self.executor
        // The memory copy stops the agent's heartbeats at its end: not a hang.
        await center.mutate(dom.uuid) { $0.machine.expectSilence(until: .now + .seconds(60)) }
        let began = ContinuousClock.now
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await withTaskCancellationHandler {
                        try await executor.run { _ = try dom.createSnapshot(xml: xml, flags) }
                    } onCancel: {
                        try? dom.abortJob()
                    }
                }
                group.addTask {
                    var acted = false
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(200))
                        guard let job = try? await executor.run({ try dom.jobProgress() }), job.kind != .none else { continue }
                        ctx.progress(min(0.95, job.fraction), "memory: \(job.dataProcessed / 1_048_576) of \(job.dataTotal / 1_048_576) MiB")
                        if let t = timeout, !acted, began.duration(to: .now) >= .seconds(t) {
                            acted = true
                            if (try? await executor.run { try dom.suspend() }) != nil {
                                paused.set()
                                ctx.progress(min(0.95, job.fraction), "timeout: VM paused so the memory snapshot completes")
                            }
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            if paused.isSet { try? await executor.run { try dom.resume() } }
            await center.mutate(dom.uuid) { $0.machine.domainResumed(at: .now) }
            throw error
        }
        // libvirt resumes what it paused itself; what Vigil paused, Vigil resumes.
        if paused.isSet {
            try? await executor.run { if try dom.state().state == .paused { try dom.resume() } }
        }
        await center.mutate(dom.uuid) { $0.machine.domainResumed(at: .now) }
        return paused.isSet
    }

    /// The `<domainsnapshot>` libvirt is asked for.
    static func definition(_ plan: Plan) -> String {
        let r = plan.request
        var x = "<domainsnapshot><name>\(XMLEscape.text(r.name))</name>"
        if let d = r.description { x += "<description>\(XMLEscape.text(d))</description>" }
        if let m = plan.memoryFile { x += "<memory snapshot='external' file='\(XMLEscape.text(m))'/>" }
        x += "<disks>"
        for (target, file) in plan.overlays.sorted(by: { $0.key < $1.key }) {
            x += "<disk name='\(XMLEscape.text(target))' snapshot='external' type='file'><driver type='qcow2'/><source file='\(XMLEscape.text(file))'/></disk>"
        }
        for target in plan.untouched.sorted() { x += "<disk name='\(XMLEscape.text(target))' snapshot='no'/>" }
        return x + "</disks></domainsnapshot>"
    }
}
