"""The cluster-HA rig for bench/failover and bench/chaos (a module, not a
command): testbed/cluster hosts with the rig's 3-member etcd, a release
vigild inside each host joined to one cluster, and HA guests with vigil-agent
on the shared storage.

Where a VM runs is read from every host's own libvirtd through the host's
unix socket (`testbed/cluster exec I virsh`), so a partitioned host is seen
too; an agent heartbeating and its boot id come from the vigild of the host
that runs the VM.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTBED = os.path.join(ROOT, "testbed")
CLUSTER = os.path.join(TESTBED, "cluster")


def sh(*args, check=True, timeout=120, **kw):
    try:
        r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        if check:
            sys.exit(f"bench: {' '.join(args)} timed out after {timeout} s")
        return subprocess.CompletedProcess(args, 124, "", "timed out")
    if check and r.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()} {r.stdout.strip()}")
    return r


def build(bindir=None):
    """Release vigild and vigil (or those already in `bindir`), the guest
    image, host packages: (bindir, image)."""
    sh(os.path.join(TESTBED, "host-up"), timeout=900)
    given = bindir is not None
    if bindir is None:
        for product in ("vigild", "vigil"):
            sh("swift", "build", "-c", "release", "--product", product, cwd=ROOT, timeout=3600)
        bindir = sh("swift", "build", "-c", "release", "--show-bin-path", cwd=ROOT).stdout.strip()
    bindir = os.path.abspath(bindir)
    for product in ("vigild", "vigil"):
        if not os.access(os.path.join(bindir, product), os.X_OK):
            sys.exit(f"bench: no {product} in {bindir} (swift build first)")
    image = os.environ.get("VIGIL_GUEST_IMAGE", os.path.join(ROOT, ".build-guest"))
    # Given binaries (the tests' short runs), the image the test run built is
    # used as it is: building the agent again would wait for the build lock
    # that `swift test` holds.
    if not (given and os.path.exists(os.path.join(image, "stamp"))):
        sh(os.path.join(TESTBED, "guest-image"), image, timeout=1800)
    return bindir, image


class Vigild:
    def __init__(self, rig, host):
        self.rig, self.host = rig, host
        self.sock = os.path.join(rig.work, f"api{host}.sock")
        self.bin = os.path.join(rig.bindir, "vigil")
        self.log = open(os.path.join(rig.work, f"vigild{host}.log"), "a")
        if os.path.exists(self.sock):
            os.remove(self.sock)
        self.proc = subprocess.Popen(
            [CLUSTER, "exec", str(host), os.path.join(rig.bindir, "vigild"), "--connect", "qemu:///system",
             "--state-dir", os.path.join(rig.work, f"state{host}"), "--socket", self.sock, "--shared-storage", rig.shared,
             "--cluster-endpoints", rig.endpoints, "--cluster-name", rig.name, "--log-level", "info",
             "--default-heartbeat-interval", "0.5", "--default-misses", "10", "--default-min-uptime", "0"],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while self.vigil("host", "info", check=False, timeout=5).returncode != 0:
            if time.time() > deadline or self.proc.poll() is not None:
                sys.exit(f"bench: vigild on host {host} did not come up; see {self.log.name}")
            time.sleep(0.2)

    def vigil(self, *args, check=True, timeout=30):
        return sh(self.bin, "--socket", self.sock, *args, check=check, timeout=timeout)

    def json(self, *args, timeout=10):
        r = self.vigil(*args, "--json", check=False, timeout=timeout)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def agent(self, name):
        body = self.json("agent", "status", name, timeout=5)
        agents = (body or {}).get("agents") or []
        return agents[0] if agents else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Rig:
    """3 (or more) hosts, one cluster name per run, guests on host 1."""

    def __init__(self, bindir, image, hosts=3):
        self.bindir, self.image, self.hosts = bindir, image, list(range(1, hosts + 1))
        status = sh(CLUSTER, "up", str(hosts), timeout=300).stdout
        self.shared = next(l.split("=", 1)[1] for l in status.splitlines() if l.startswith("shared="))
        self.endpoints = sh(CLUSTER, "etcd").stdout.strip()
        self.name = "b" + uuid.uuid4().hex[:8]
        self.work = tempfile.mkdtemp(prefix="vigil-bench-ha-")
        os.chmod(self.work, 0o755)
        self.daemons = {h: Vigild(self, h) for h in self.hosts}
        self.guests = []

    def inside(self, host, *args, timeout=20):
        return sh(CLUSTER, "exec", str(host), *args, check=False, timeout=timeout)

    def add_guest(self, priority, host=1):
        name = f"ha{len(self.guests)}-" + uuid.uuid4().hex[:4]
        disk = os.path.join(self.shared, name + ".qcow2")
        sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.join(self.image, "data.qcow2"), disk)
        xml = sh(os.path.join(TESTBED, "guest-xml"), "--name", name, "--image", self.image, "--disk", disk,
                 "--console-log", os.path.join(self.shared, name + ".log")).stdout
        path = os.path.join(self.work, name + ".xml")
        with open(path, "w") as f:
            f.write(xml)
        r = self.inside(host, "virsh", "-q", "-c", "qemu:///system", "define", path)
        if r.returncode != 0:
            sys.exit(f"bench: define {name}: {r.stderr}")
        self.daemons[host].vigil("vm", "settings", name, "--ha-priority", priority)
        self.daemons[host].vigil("vm", "start", name)
        self.guests.append(name)
        return name

    def running_by_host(self):
        """{host: names of the domains its own libvirtd runs} (every host that is up, partitioned or not):
        one call per host, so polling costs the booting guests little of the two cores."""
        running = {}
        for h in self.hosts:
            r = self.inside(h, "virsh", "-q", "-c", "qemu:///system", "list", "--name", "--state-running", timeout=10)
            running[h] = set(r.stdout.split()) if r.returncode == 0 else set()
        return running

    def running_on(self, name):
        """Hosts whose own libvirtd runs `name`."""
        return [h for h, names in self.running_by_host().items() if name in names]

    def hello_after(self, name, host, t0):
        """When (seconds after t0, vigild's event clock) `name`'s agent first said hello to
        `host`'s vigild after t0; None when that vigild did not log one (a guest's hellos
        past its event budget are summarised, not logged)."""
        d = self.daemons.get(host)
        r = d.vigil("events", "--vm", name, "--json", check=False, timeout=10) if d else None
        for line in (r.stdout.splitlines() if r and r.returncode == 0 else []):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("kind") == "agent" and "connected" in e.get("message", "") and e.get("time", 0) >= t0:
                return e["time"] - t0
        return None

    def heartbeating(self, name, host):
        d = self.daemons.get(host)
        a = d.agent(name) if d and d.proc.poll() is None else None
        return a if a and a.get("state") == "alive" else None

    def placement(self):
        """Each guest's hosts, from every libvirtd at once: {name: [hosts]}."""
        running = self.running_by_host()
        return {g: [h for h in self.hosts if g in running[h]] for g in self.guests}

    def wait_all_back(self, timeout, exclude=(), since=None):
        """Until every guest runs on exactly one host (not in `exclude`) with its agent heartbeating there,
        counted from `since` (default: now). Returns (seconds, {name: seconds}, double runs seen meanwhile)."""
        t0 = time.time() if since is None else since
        back, doubles = {}, set()
        while time.time() - t0 < timeout:
            running = self.running_by_host()
            for g in self.guests:
                on = [h for h in self.hosts if g in running[h]]
                if len(on) > 1:
                    doubles.add(g)
                if g not in back and len(on) == 1 and on[0] not in exclude and self.heartbeating(g, on[0]):
                    # The hello's own time where vigild logged it: polling every half second
                    # (virsh on every host, the agent status) is coarser than that.
                    seen = time.time() - t0
                    hello = self.hello_after(g, on[0], t0)
                    back[g] = hello if hello is not None and hello <= seen else seen
            if len(back) == len(self.guests):
                return max(back.values()), back, doubles
            time.sleep(0.5)
        return None, back, doubles

    def boot_ids(self):
        """{name: {host: boot id}} from the agents of each host's vigild."""
        ids = {}
        for g in self.guests:
            for h in self.hosts:
                a = self.heartbeating(g, h)
                if a and a.get("bootID"):
                    ids.setdefault(g, {})[h] = a["bootID"]
        return ids

    def restart_host(self, host):
        """A killed host powered on again: clean libvirtd, a new vigild."""
        sh(CLUSTER, "up", str(len(self.hosts)), timeout=300)
        old = self.daemons.get(host)
        if old:
            old.stop()
        self.daemons[host] = Vigild(self, host)

    def close(self):
        for d in self.daemons.values():
            d.stop()
        for h in self.hosts:
            sh(CLUSTER, "thaw", str(h), check=False)
            sh(CLUSTER, "heal", str(h), check=False)
            sh(CLUSTER, "storage-restore", str(h), check=False)
        for g in self.guests:
            for h in self.hosts:
                self.inside(h, "sh", "-c", f"virsh -q destroy {g}; virsh -q undefine {g}", timeout=30)
            for f in (g + ".qcow2", g + ".log"):
                p = os.path.join(self.shared, f)
                if os.path.exists(p):
                    os.remove(p)
