import Core
import Foundation
@testable import HostMonitor
import Libvirt
import Testing

/// The pure parts of protecting guests without vigil-agent: sorting
/// libvirt's agent errors, reading the panic details libvirt logs (real
/// lines: a KubeVirt test's and one from a qemu-devel report of a Windows
/// crash), and the Windows fix-ups of `vigil policy set`.
@Suite struct GuestAgentProtectionTests {
    static func error(_ code: LibvirtError.Code, _ message: String) -> LibvirtError {
        LibvirtError(code: code, domain: .none, message: message, operation: "ask the guest agent")
    }

    @Test func libvirtsAgentErrorsAreSortedIntoGoneSilentOrUnknown() {
        // What libvirt 9.0 says, as seen on this testbed.
        #expect(GuestAgentPing.outcome(of: Self.error(.agentUnresponsive, "Guest agent is not responding: QEMU guest agent is not connected")) == .notConnected)
        #expect(GuestAgentPing.outcome(of: Self.error(.agentUnresponsive, "Guest agent is not responding: Guest agent not available for now")) == .silent)
        #expect(GuestAgentPing.outcome(of: Self.error(.noConnect, "no connection driver available")) == .unknown, "libvirtd gone: not the guest's silence")
        #expect(GuestAgentPing.outcome(of: Self.error(.operationInvalid, "domain is not running")) == .unknown)
        #expect(GuestAgentPing.outcome(of: Self.error(.operationTimeout, "Timed out during operation: cannot acquire state change lock (held by agent=remoteDispatchDomainQemuAgentCommand)")) == .silent,
                "the agent job held by a command the agent does not answer")
        #expect(GuestAgentPing.outcome(of: Self.error(.agentUnsynced, "guest agent replied with wrong id to guest-sync")) == .silent)
    }

    @Test func hyperVPanicLinesGiveTheBugcheck() throws {
        let kubevirt = "2024-09-30 16:30:49.506+0000: panic hyper-v: arg1='0x5a', arg2='0x1', arg3='0x2', arg4='0x3', arg5='0x4'"
        let d = try #require(GuestPanicDetails.parse(kubevirt[...]))
        #expect(d.kind == "hyper-v" && d.arguments == [0x5A, 1, 2, 3, 4])
        #expect(d.time == Date(timeIntervalSince1970: 1_727_713_849.506))
        #expect(d.summary == "Windows bugcheck 0x0000005A CRITICAL_SERVICE_FAILED (0x1, 0x2, 0x3, 0x4)")
        let qemuDevel = "panic hyper-v: arg1='0x3e', arg2='0x46d359bbdff', arg3='0x56d359bbdff', arg4='0x0', arg5='0x0'"
        let q = try #require(GuestPanicDetails.parse(qemuDevel[...]))
        #expect(q.arguments == [0x3E, 0x46D359BBDFF, 0x56D359BBDFF, 0, 0] && q.time == nil)
        #expect(q.summary.hasPrefix("Windows bugcheck 0x0000003E MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED (0x46D359BBDFF"))
        let s390 = "2024-01-02 03:04:05.678+0000: panic s390: core='0' psw-mask='0x0002000180000000' psw-addr='0x000000000010f146' reason='disabled-wait'"
        #expect(GuestPanicDetails.parse(s390[...])?.summary.contains("s390") == true)
        for bad in ["", "panic", "panic hyper-v: arg1='0x5a'", "panic hyper-v: arg1='0xZZ', arg2='0x1', arg3='0x2', arg4='0x3', arg5='0x4'",
                    "panic hyper-v: arg1='0x11111111111111111', arg2='0x1', arg3='0x2', arg4='0x3', arg5='0x4'", "panic $(rm -rf): x",
                    String(repeating: "panic hyper-v: ", count: 400)] {
            #expect(GuestPanicDetails.parse(bad[...]) == nil, "'\(bad.prefix(60))'")
        }
    }

    @Test func theLatestPanicOfThisCrashIsPicked() {
        let log = """
            2026-12-01 10:00:00.000+0000: starting up libvirt version: 9.0.0
            2026-12-01 10:00:05.000+0000: panic hyper-v: arg1='0xa', arg2='0x0', arg3='0x0', arg4='0x0', arg5='0x0'
            2026-12-01 11:00:00.000+0000: starting up libvirt version: 9.0.0
            2026-12-01 11:00:07.000+0000: panic hyper-v: arg1='0x7e', arg2='0xc0000005', arg3='0x0', arg4='0x0', arg5='0x0'
            2026-12-01 11:00:07.100+0000: shutting down, reason=crashed
            """
        let at = Date(timeIntervalSince1970: 1_796_122_800)  // 2026-12-01 11:00:00 UTC
        #expect(GuestPanicDetails.latest(in: log, notBefore: at)?.arguments.first == 0x7E)
        #expect(GuestPanicDetails.latest(in: log, notBefore: at.addingTimeInterval(3600)) == nil, "an old panic is not this one")
    }

    @Test func policySetAddsHyperVCrashReportingForWindowsOnly() {
        let linux = "<domain type='kvm'><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><devices></devices></domain>"
        let windows = "<domain type='kvm'><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><features><hyperv mode='custom'><relaxed state='on'/></hyperv></features><devices></devices></domain>"
        let l = DomainXML.protectionFixups(linux)
        #expect(l.xml.contains("<panic model='isa'/>") && !l.xml.contains("hyperv'/>"))
        let w = DomainXML.protectionFixups(windows)
        #expect(w.xml.contains("<panic model='isa'/>") && w.xml.contains("<panic model='hyperv'/>"))
        #expect(w.changes.contains { $0.contains("Hyper-V") })
        #expect(DomainXML.isWindows("<metadata><libosinfo:os id='http://microsoft.com/win/11'/></metadata>"))
    }
}
