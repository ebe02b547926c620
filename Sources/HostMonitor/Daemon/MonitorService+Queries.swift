import Core
import Foundation
import Libvirt

extension MonitorService {
    public func hostInfo() async throws -> HostInfo {
        let conn = try connection()
        let uri = config.libvirtURI
        let facts = try await executor.run { () throws -> HostInfo in
            let node = try conn.nodeInfo
            let v = try conn.libraryVersion
            return HostInfo(hostname: try conn.hostname, hostUUID: try conn.hostUUID, libvirtURI: uri,
                            libvirtConnected: conn.isAlive, libvirtVersion: "\(v.major).\(v.minor).\(v.micro)",
                            driver: try conn.driverType, cpus: node.cpus, memoryMiB: node.memoryKiB / 1024,
                            freeMemoryMiB: (try? conn.freeMemory).map { $0 / 1024 / 1024 } ?? 0,
                            vigildVersion: VigilVersion.current, domains: try conn.domains().count, protectedDomains: 0)
        }
        var info = facts
        info.protectedDomains = try await vmList().filter { $0.agent.isProtected }.count
        return info
    }

    public func vmList() async throws -> [VMSummary] {
        let conn = try connection()
        let rows = try await executor.run { () throws -> [(String, String, DomainStateWithReason, Bool)] in
            try conn.domains().map { dom in
                let xml = (try? dom.xml()) ?? ""
                return (dom.name, dom.uuid, try dom.state(),
                        DomainXML.hasChannel(in: xml, channelName: AgentProtocol.channelName))
            }
        }
        var result: [VMSummary] = []
        for (name, uuid, state, hasChannel) in rows {
            let entry = await registry.entry(uuid)
            let agent: AgentState
            if !hasChannel {
                agent = .unprotected
            } else if state.state != .running && state.state != .paused {
                agent = .stopped
            } else {
                agent = entry?.state ?? .connecting
            }
            result.append(VMSummary(name: name, uuid: uuid, state: state.state.description,
                                    stateReason: state.reasonName, agent: agent,
                                    agentVersion: entry?.hello?.agentVersion, guestOS: entry?.hello?.os))
        }
        return result
    }
}
