import Testing
@testable import GuestAgent

/// The parsers behind the agent's inventory (the sysfs/procfs walk itself
/// runs in the real guest: see EndToEndTests/HardwareTests).
@Suite struct GuestInventoryTests {
    @Test func countsKernelCPULists() {
        #expect(GuestInventory.cpuCount("0") == 1)
        #expect(GuestInventory.cpuCount("0-1\n") == 2)
        #expect(GuestInventory.cpuCount("0-3,5,7-8") == 7)
        #expect(GuestInventory.cpuCount("") == 0)
        #expect(GuestInventory.cpuCount("3-1,x") == 0)
    }

    @Test func readsMemTotal() {
        #expect(GuestInventory.memTotalKiB("MemTotal:         231234 kB\nMemFree:  1000 kB\n") == 231_234)
        #expect(GuestInventory.memTotalKiB("MemFree:  1000 kB\n") == 0)
    }
}
