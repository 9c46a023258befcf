//! Network-namespace topologies for tests that need real interfaces (XDP on veth, several hosts).
//!
//! Names carry the creating process's pid — namespaces are `mrd-<pid>-<n>-<role>` and veth ends
//! `mv<pid>x<n><a|b>` (under the 15-byte interface name limit) — so a later run can tell a leftover
//! of a dead process from a topology another test is using right now, and remove only the former.

use std::{
    fs::File,
    net::Ipv4Addr,
    process::Command,
    sync::{
        Once,
        atomic::{AtomicU32, Ordering},
    },
};

use nix::sched::{CloneFlags, setns};

use crate::{Result, TestkitError, io_err};

const NETNS_PREFIX: &str = "mrd-";
static NEXT_ID: AtomicU32 = AtomicU32::new(0);
static CLEAN_LEFTOVERS: Once = Once::new();

fn ip(args: &[&str]) -> Result<String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(io_err("running `ip` (install iproute2)"))?;
    if !output.status.success() {
        return Err(TestkitError::CommandFailed {
            command: format!("ip {}", args.join(" ")),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes namespaces left by test processes that no longer exist (killed runs). Veth ends live
/// only inside such namespaces and vanish with them. Returns the names removed.
pub fn remove_leftover_namespaces() -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for line in ip(&["netns", "list"])?.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pid_alive(pid) {
            ip(&["netns", "del", name])?;
            removed.push(name.to_owned());
        }
    }
    Ok(removed)
}

/// A network namespace, deleted on drop (with every interface inside it).
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `mrd-<pid>-<n>-<role>` with its loopback up.
    pub fn new(role: &str) -> Result<Self> {
        let mut cleanup = Ok(());
        CLEAN_LEFTOVERS.call_once(|| cleanup = remove_leftover_namespaces().map(drop));
        cleanup?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NETNS_PREFIX}{}-{id}-{role}", std::process::id());
        Self::create_named(name)
    }

    /// Creates a namespace with exactly this name (tests of the leftover cleanup use it).
    pub fn create_named(name: String) -> Result<Self> {
        ip(&["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip <args>` inside this namespace.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `f` on a new thread that has entered this namespace, and returns its result. Sockets
    /// created inside `f` stay in this namespace after the thread ends; so does an attached XDP
    /// program's interface.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send,
        F: FnOnce() -> T + Send,
    {
        let path = format!("/run/netns/{}", self.name);
        let handle = File::open(&path).map_err(io_err(format!("opening {path}")))?;
        std::thread::scope(|scope| {
            scope
                .spawn(move || -> Result<T> {
                    setns(&handle, CloneFlags::CLONE_NEWNET)?;
                    Ok(f())
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// Moves the calling thread into the namespace named `name` (as [`Netns::name`] spells it): every
/// socket it opens from now on is in that namespace. For threads the caller does not create
/// itself, e.g. a tokio runtime's `on_thread_start`, so every connection its tasks open (an etcd
/// client's reconnects too) starts inside the namespace.
pub fn enter_netns(name: &str) -> Result<()> {
    let path = format!("/run/netns/{name}");
    let handle = File::open(&path).map_err(io_err(format!("opening {path}")))?;
    setns(&handle, CloneFlags::CLONE_NEWNET)?;
    Ok(())
}

/// [`Netns::run`] by the namespace's name (for closures that must not borrow the [`Netns`]).
pub(crate) fn run_in_netns<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<T> {
                enter_netns(name)?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// One end of a veth pair: its namespace, interface name and address.
#[derive(Debug, Clone)]
pub struct VethEnd {
    pub netns: String,
    pub interface: String,
    pub addr: Ipv4Addr,
}

/// Two namespaces ("hosts") joined by one veth pair, `a` at 10.251.0.1/30 and `b` at 10.251.0.2/30.
/// The addresses are private to these namespaces, so concurrent topologies do not collide.
pub struct TwoHosts {
    pub a: VethEnd,
    pub b: VethEnd,
    // Declared last: dropped after the ends, deleting the namespaces and the veth pair.
    ns_a: Netns,
    ns_b: Netns,
}

impl TwoHosts {
    pub fn new() -> Result<Self> {
        let ns_a = Netns::new("a")?;
        let ns_b = Netns::new("b")?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let if_a = format!("mv{pid}x{id}a");
        let if_b = format!("mv{pid}x{id}b");
        assert!(if_a.len() <= 15, "interface name {if_a} exceeds IFNAMSIZ");
        // Both ends are created directly inside their namespaces: nothing is ever left in the
        // root namespace, even if the process dies half-way.
        ip(&[
            "link",
            "add",
            &if_a,
            "netns",
            ns_a.name(),
            "type",
            "veth",
            "peer",
            "name",
            &if_b,
            "netns",
            ns_b.name(),
        ])?;
        let a = VethEnd {
            netns: ns_a.name().into(),
            interface: if_a,
            addr: Ipv4Addr::new(10, 251, 0, 1),
        };
        let b = VethEnd {
            netns: ns_b.name().into(),
            interface: if_b,
            addr: Ipv4Addr::new(10, 251, 0, 2),
        };
        for (ns, end) in [(&ns_a, &a), (&ns_b, &b)] {
            ns.ip(&["addr", "add", &format!("{}/30", end.addr), "dev", &end.interface])?;
            ns.ip(&["link", "set", &end.interface, "up"])?;
        }
        Ok(Self { a, b, ns_a, ns_b })
    }

    pub fn ns_a(&self) -> &Netns {
        &self.ns_a
    }

    pub fn ns_b(&self) -> &Netns {
        &self.ns_b
    }
}

impl Netns {
    /// Sets a sysctl inside this namespace (`key` as `sysctl` spells it, e.g.
    /// `net.ipv4.conf.all.rp_filter`), by writing `/proc/sys` from a thread inside it: the `net.*`
    /// tree a task sees is its own namespace's.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.run(|| std::fs::write(&path, value))?
            .map_err(io_err(format!("writing {value} to {path} in {}", self.name)))
    }
}

/// Joins `a` and `b` with a veth pair addressed `a_addr`/30 and `b_addr`/30 (names as in
/// [`TwoHosts`]), both ends up.
pub fn veth_pair(a: &Netns, a_addr: Ipv4Addr, b: &Netns, b_addr: Ipv4Addr) -> Result<(VethEnd, VethEnd)> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let (if_a, if_b) = (format!("mv{pid}x{id}a"), format!("mv{pid}x{id}b"));
    assert!(if_a.len() <= 15, "interface name {if_a} exceeds IFNAMSIZ");
    ip(&[
        "link",
        "add",
        &if_a,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        &if_b,
        "netns",
        b.name(),
    ])?;
    let ends = (
        VethEnd {
            netns: a.name().into(),
            interface: if_a,
            addr: a_addr,
        },
        VethEnd {
            netns: b.name().into(),
            interface: if_b,
            addr: b_addr,
        },
    );
    for (ns, end) in [(a, &ends.0), (b, &ends.1)] {
        ns.ip(&["addr", "add", &format!("{}/30", end.addr), "dev", &end.interface])?;
        ns.ip(&["link", "set", &end.interface, "up"])?;
    }
    Ok(ends)
}

/// Several nodes behind one address: a client namespace, a router namespace, and N node
/// namespaces, each joined to the router by its own veth pair; the VIP on every node's `lo`, and the
/// router routing the VIP to one node at a time ([`VipHosts::route_vip_to`]), as anycast would.
/// Addresses (private to these namespaces): client 10.251.1.2 (router 10.251.1.1), node `i`
/// 10.251.{2+i}.2 (router 10.251.{2+i}.1), VIP 10.251.255.1. Nodes route everything through the
/// router, so a reply from the VIP goes straight to the client (direct server return).
///
/// The router does not filter by reverse path (rp_filter 0): replies from the VIP leave a node the
/// router does not route the VIP to, as they do on the Internet side of a real anycast service.
pub struct VipHosts {
    pub vip: Ipv4Addr,
    /// The client's end (in the client namespace) of its link to the router.
    pub client: VethEnd,
    /// Per node: the router's end of the link (its `addr` is the node's gateway).
    pub router_ends: Vec<VethEnd>,
    /// Per node: the node's end of the link (its `addr` is the node's underlay address).
    pub node_ends: Vec<VethEnd>,
    // Declared last: dropped after the ends.
    client_ns: Netns,
    router_ns: Netns,
    node_ns: Vec<Netns>,
}

impl VipHosts {
    pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 251, 255, 1);

    pub fn new(nodes: u8) -> Result<Self> {
        assert!((1..=16).contains(&nodes), "1 to 16 nodes");
        let client_ns = Netns::new("client")?;
        let router_ns = Netns::new("router")?;
        let (client, _router_client) = veth_pair(
            &client_ns,
            Ipv4Addr::new(10, 251, 1, 2),
            &router_ns,
            Ipv4Addr::new(10, 251, 1, 1),
        )?;
        client_ns.ip(&["route", "add", "default", "via", "10.251.1.1"])?;
        router_ns.sysctl("net.ipv4.ip_forward", "1")?;
        router_ns.sysctl("net.ipv4.conf.all.rp_filter", "0")?;
        router_ns.sysctl("net.ipv4.conf.default.rp_filter", "0")?;
        let mut node_ns = Vec::new();
        let mut router_ends = Vec::new();
        let mut node_ends = Vec::new();
        for i in 0..nodes {
            let ns = Netns::new(&format!("node{i}"))?;
            let (router_end, node_end) = veth_pair(
                &router_ns,
                Ipv4Addr::new(10, 251, 2 + i, 1),
                &ns,
                Ipv4Addr::new(10, 251, 2 + i, 2),
            )?;
            router_ns.sysctl(&format!("net.ipv4.conf.{}.rp_filter", router_end.interface), "0")?;
            ns.ip(&["addr", "add", &format!("{}/32", Self::VIP), "dev", "lo"])?;
            ns.ip(&["route", "add", "default", "via", &router_end.addr.to_string()])?;
            node_ns.push(ns);
            router_ends.push(router_end);
            node_ends.push(node_end);
        }
        let hosts = Self {
            vip: Self::VIP,
            client,
            router_ends,
            node_ends,
            client_ns,
            router_ns,
            node_ns,
        };
        hosts.route_vip_to(0)?;
        Ok(hosts)
    }

    /// Makes the router deliver the VIP to node `node` (replacing the previous route).
    pub fn route_vip_to(&self, node: usize) -> Result<()> {
        let gateway = self.node_ends[node].addr.to_string();
        self.router_ns
            .ip(&["route", "replace", &format!("{}/32", self.vip), "via", &gateway])?;
        Ok(())
    }

    pub fn client_ns(&self) -> &Netns {
        &self.client_ns
    }

    pub fn router_ns(&self) -> &Netns {
        &self.router_ns
    }

    pub fn node_ns(&self, node: usize) -> &Netns {
        &self.node_ns[node]
    }
}
