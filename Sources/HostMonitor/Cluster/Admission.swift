import Core

/// Admission control's arithmetic (CAS's and vSphere's "resources kept for
/// failover"), in one place for the manager's placements, `vigil cluster
/// status` and a start on this host: a share of the live hosts' memory and
/// of their CPU threads stays free.
///
/// CPU is counted as the vCPUs of running VMs against the hosts' threads,
/// one to one. Overcommitting vCPUs is normal on KVM, so with no CPU reserve
/// (the default) CPU is not counted at all; a reserve asks that this share
/// of threads stays unclaimed by any vCPU.
struct Admission: Sendable, Equatable {
    var reserveMemoryPercent = 0
    var reserveCPUPercent = 0

    init(reserveMemoryPercent: Int = 0, reserveCPUPercent: Int = 0) {
        self.reserveMemoryPercent = reserveMemoryPercent
        self.reserveCPUPercent = reserveCPUPercent
    }

    init(_ c: ClusterHAConfig) {
        self.init(reserveMemoryPercent: c.enabled ? c.reserveMemoryPercent : 0, reserveCPUPercent: c.enabled ? c.reserveCPUPercent : 0)
    }

    /// What a set of hosts offers, and what their running VMs leave of it.
    struct Pool: Sendable, Equatable {
        var memoryMiB = 0
        var freeMemoryMiB = 0
        var cpus = 0
        var freeCPUs = 0

        init(memoryMiB: Int = 0, freeMemoryMiB: Int = 0, cpus: Int = 0, freeCPUs: Int = 0) {
            self.memoryMiB = memoryMiB
            self.freeMemoryMiB = freeMemoryMiB
            self.cpus = cpus
            self.freeCPUs = freeCPUs
        }

        init(_ hosts: some Sequence<HostRecord>) {
            for h in hosts {
                memoryMiB += h.memoryMiB
                freeMemoryMiB += h.freeMemoryMiB
                cpus += h.cpus
                freeCPUs += h.freeCPUs ?? h.cpus
            }
        }
    }

    struct Demand: Sendable, Equatable {
        var memoryMiB: Int
        var vcpus: Int
    }

    /// Why taking `demand` from `pool` breaks the reserve (nil: it fits).
    func refusal(_ demand: Demand, from pool: Pool) -> String? {
        let memoryLeft = pool.freeMemoryMiB - demand.memoryMiB
        let memoryKept = pool.memoryMiB * reserveMemoryPercent / 100
        if memoryLeft < memoryKept || memoryLeft < 0 {
            return "leaves \(memoryLeft) MiB free, under the \(reserveMemoryPercent) % (\(memoryKept) MiB) of memory kept for failover"
        }
        guard reserveCPUPercent > 0 else { return nil }
        let cpusLeft = pool.freeCPUs - demand.vcpus
        let cpusKept = pool.cpus * reserveCPUPercent / 100
        if cpusLeft < cpusKept {
            return "leaves \(cpusLeft) CPU thread(s) unclaimed by vCPUs, under the \(reserveCPUPercent) % (\(cpusKept)) kept for failover"
        }
        return nil
    }
}
