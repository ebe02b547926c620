import Glibc
import Testing
@testable import GuestAgent

/// Each command's answer, in the shape libvirt's parser (qemu_agent.c) requires.
@Suite struct QGACommandTests {
    let server = QGAServer(version: "1.2.3")

    @Test func syncEchoesTheIdAsLibvirtSendsIt() {
        // libvirt uses the current time in ms as the id and compares it as an integer.
        #expect(server.call("guest-sync", #"{"id":1717171717171}"#) == ["return": 1717171717171])
        #expect(QGATest.errorClass(server.call("guest-sync", #"{"id":"x"}"#)) == "GenericError")
        #expect(QGATest.errorClass(server.call("guest-sync")) == "GenericError")
    }

    @Test func syncDelimitedWritesTheDelimiterFirst() throws {
        let outputs = server.send(#"{"execute":"guest-sync-delimited","arguments":{"id":42}}"#)
        guard case .write(let bytes) = try #require(outputs.first) else { Issue.record("no write"); return }
        #expect(bytes.first == 0xFF)
        #expect(QGATest.responses(outputs) == [["return": 42]])
    }

    @Test func pingReturnsAnEmptyObject() {
        #expect(server.call("guest-ping") == ["return": [:]])
    }

    @Test func infoListsEveryCommand() throws {
        let info = try #require(server.call("guest-info")?["return"])
        #expect(info["version"] == "1.2.3")
        let listed = try #require(info["supported_commands"]?.arrayValue)
        #expect(listed.compactMap { $0["name"]?.stringValue } == QGACommand.allCases.map(\.rawValue))
        for entry in listed {
            #expect(entry["enabled"] == true)
            #expect(entry["success-response"] == .bool(entry["name"] != "guest-shutdown"))
        }
    }

    @Test func unknownCommandIsCommandNotFoundWithTheId() {
        let response = server.call("guest-exec", id: #"{"tag":[1,2]}"#)
        #expect(QGATest.errorClass(response) == "CommandNotFound")
        #expect(response?["id"] == ["tag": [1, 2]])
        #expect(QGATest.errorClass(server.call("guest-ping", "[1]")) == "GenericError")
    }

    @Test func getTimeIsCloseToTheRealClock() throws {
        let reported = try #require(server.call("guest-get-time")?["return"]?.intValue)
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
        #expect(abs(now - reported) < 5_000_000_000)
    }

    @Test func osInfoComesFromUnameAndOSRelease() throws {
        let info = try #require(server.call("guest-get-osinfo")?["return"])
        #expect(info["kernel-release"]?.stringValue == GuestFacts.kernel)
        #expect(info["kernel-version"]?.stringValue?.isEmpty == false)
        #expect(info["machine"]?.stringValue?.isEmpty == false)
        if SysFiles.exists("/etc/os-release") {
            #expect(info["id"]?.stringValue?.isEmpty == false)
            #expect(info["pretty-name"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func osReleaseParsing() {
        let parsed = GuestOSInfo.parseOSRelease("""
            # comment
            NAME="Debian GNU/Linux"
            ID=debian
            VERSION='12 (bookworm)'
            PRETTY_NAME="Say \\"hi\\""
            """)
        #expect(parsed == ["NAME": "Debian GNU/Linux", "ID": "debian", "VERSION": "12 (bookworm)", "PRETTY_NAME": #"Say "hi""#])
    }

    @Test func hostNameIsTheKernelHostName() throws {
        let name = try #require(server.call("guest-get-host-name")?["return"]?["host-name"]?.stringValue)
        #expect(name == GuestFacts.hostname)
        #expect(!name.isEmpty)
    }

    @Test func timezoneHasAZoneAndAnIntegerOffset() throws {
        let zone = try #require(server.call("guest-get-timezone")?["return"])
        #expect(zone["zone"]?.stringValue?.isEmpty == false)
        let offset = try #require(zone["offset"]?.intValue)
        #expect(abs(offset) <= 14 * 3600)
    }

    @Test func usersIsAnArrayOfNamesAndLoginTimes() throws {
        let users = try #require(server.call("guest-get-users")?["return"]?.arrayValue)
        for user in users {
            #expect(user["user"]?.stringValue?.isEmpty == false)
            guard case .double = user["login-time"] else { Issue.record("login-time not a float"); continue }
        }
    }

    @Test func interfacesIncludeLoopbackWithPrefixes() throws {
        let interfaces = try #require(server.call("guest-network-get-interfaces")?["return"]?.arrayValue)
        for interface in interfaces {
            #expect(interface["name"]?.stringValue?.isEmpty == false)
            for address in interface["ip-addresses"]?.arrayValue ?? [] {
                #expect(["ipv4", "ipv6"].contains(address["ip-address-type"]?.stringValue ?? ""))
                #expect(address["ip-address"]?.stringValue?.isEmpty == false)
                #expect(address["prefix"]?.intValue != nil)
            }
        }
        let lo = try #require(interfaces.first { $0["name"] == "lo" })
        #expect(lo["ip-addresses"]?.arrayValue?.contains(
            ["ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8]) == true)
        #expect(lo["hardware-address"] == "00:00:00:00:00:00")
        #expect(lo["statistics"]?["rx-bytes"]?.intValue != nil)
    }

    @Test func fsinfoListsRealFilesystemsOnly() throws {
        let filesystems = try #require(server.call("guest-get-fsinfo")?["return"]?.arrayValue)
        for fs in filesystems {
            #expect(fs["name"]?.stringValue?.isEmpty == false)
            #expect(fs["mountpoint"]?.stringValue?.hasPrefix("/") == true)
            #expect(!["proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "cgroup", "cgroup2"].contains(fs["type"]?.stringValue ?? ""))
            #expect(fs["disk"] == [])
            let used = try #require(fs["used-bytes"]?.intValue)
            let total = try #require(fs["total-bytes"]?.intValue)
            #expect(used >= 0 && used <= total)
        }
        // Wherever "/" sits on a block device (as on this VM's /dev/vda), it is listed.
        let rootMount = GuestFilesystems.mounts().first { $0.mountpoint == "/" }
        #expect((rootMount != nil) == filesystems.contains { $0["mountpoint"] == "/" })
    }

    @Test func mountinfoParsingSkipsPseudoFilesystemsAndUnescapes() {
        let mountinfo = """
            22 27 0:21 / /proc rw,relatime - proc proc rw
            25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw
            27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
            30 27 254:16 / /mnt/my\\040disk rw master:2 - xfs /dev/vdb rw
            bogus line
            31 27 abc / /x rw - ext4 /dev/vdc rw
            """
        let mounts = GuestFilesystems.mounts(mountinfo: mountinfo)
        #expect(mounts == [
            MountEntry(mountpoint: "/", type: "ext4", source: "/dev/vda1", major: 254, minor: 1),
            MountEntry(mountpoint: "/mnt/my disk", type: "xfs", source: "/dev/vdb", major: 254, minor: 16),
        ])
    }

    @Test func disksHaveNamesAndPartitionFlags() throws {
        let disks = try #require(server.call("guest-get-disks")?["return"]?.arrayValue)
        for disk in disks {
            #expect(disk["name"]?.stringValue?.hasPrefix("/dev/") == true)
            guard case .bool = disk["partition"] else { Issue.record("partition not a bool"); continue }
            #expect(disk["dependencies"]?.arrayValue != nil)
        }
    }
}
