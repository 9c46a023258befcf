//! One source of truth → every host's configuration. The inventory (TOML: the cluster, its PoPs,
//! their BGP peers and hosts) renders, per host, BIRD's `bird.conf`, the systemd units and the
//! node's flags, from templates kept in `infra/templates/` and compiled into this binary (a render
//! never depends on the working directory). The inventory is validated first: a mistake is a typed
//! error naming the PoP or host, never a half-written configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};

/// The BIRD protocol that originates the VIPs (the agent enables and disables it).
pub const VIP_PROTOCOL: &str = "meridian_vips";
pub const BIRD_SOCKET: &str = "/run/bird/bird.ctl";
/// BGP timers: BIRD's shortest hold time is 3 s; keepalives a third of it.
pub const HOLD_TIME_S: u32 = 3;
pub const KEEPALIVE_TIME_S: u32 = 1;
/// BFD: a dead link or host is noticed after interval × multiplier.
pub const BFD_INTERVAL_MS: u32 = 100;
pub const BFD_MULTIPLIER: u32 = 3;

const TEMPLATES: [(&str, &str); 5] = [
    ("bird.conf", include_str!("../../infra/templates/bird.conf.j2")),
    (
        "meridian-node.service",
        include_str!("../../infra/templates/meridian-node.service.j2"),
    ),
    (
        "meridian-anycast.service",
        include_str!("../../infra/templates/meridian-anycast.service.j2"),
    ),
    (
        "meridian-control.service",
        include_str!("../../infra/templates/meridian-control.service.j2"),
    ),
    ("node.env", include_str!("../../infra/templates/node.env.j2")),
];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub cluster: Cluster,
    #[serde(default)]
    pub pops: Vec<Pop>,
    /// Hosts of the control plane (etcd members, assigner, login API), outside any PoP.
    #[serde(default)]
    pub control_hosts: Vec<ControlHost>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    /// etcd client URLs.
    pub etcd: Vec<String>,
    /// Anycast prefixes every PoP announces (IPv4 CIDR).
    pub vips: Vec<String>,
    #[serde(default = "default_game_port")]
    pub game_port: u16,
    #[serde(default = "default_metrics_port")]
    pub metrics_port: u16,
}

fn default_game_port() -> u16 {
    7777
}

fn default_metrics_port() -> u16 {
    9100
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pop {
    pub name: String,
    /// The AS every PoP announces from (usually one origin AS for the whole anycast network).
    pub asn: u32,
    /// Traffic engineering: MED (lower is preferred among routes from the same neighbouring AS),
    /// AS-path prepends (each makes the path one longer: less preferred everywhere), communities
    /// (`"asn:value"`, e.g. a transit's "do not announce to peers" knobs).
    #[serde(default)]
    pub med: Option<u32>,
    #[serde(default)]
    pub prepend: u32,
    #[serde(default)]
    pub communities: Vec<String>,
    /// BFD on the BGP sessions: a dead link or router noticed in 300 ms instead of the hold time.
    #[serde(default)]
    pub bfd: bool,
    pub peers: Vec<Peer>,
    pub hosts: Vec<Host>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub name: String,
    pub address: Ipv4Addr,
    pub asn: u32,
    #[serde(default)]
    pub description: String,
    /// eBGP multihop TTL (providers that peer from a route server, e.g. 2).
    #[serde(default)]
    pub multihop: Option<u8>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub name: String,
    /// The host's own address (BGP session source, router id).
    pub address: Ipv4Addr,
    /// The NIC game traffic arrives on (XDP attaches here).
    pub interface: String,
    #[serde(default = "default_workers")]
    pub workers: u32,
    #[serde(default = "default_capacity")]
    pub capacity_players: u32,
}

fn default_workers() -> u32 {
    8
}

fn default_capacity() -> u32 {
    8_000
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControlHost {
    pub name: String,
    pub address: Ipv4Addr,
    /// `assigner`, `auth`, or both.
    pub services: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("inventory is not valid TOML for this schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("inventory: {0}")]
    Invalid(String),
    #[error("template {name}: {source}")]
    Template { name: String, source: minijinja::Error },
    #[error("writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// `"a.b.c.d/len"` with a valid address and length.
fn check_prefix(prefix: &str) -> Result<(), String> {
    let (address, length) = prefix
        .split_once('/')
        .ok_or(format!("{prefix}: expected address/length"))?;
    address
        .parse::<Ipv4Addr>()
        .map_err(|_| format!("{prefix}: bad IPv4 address"))?;
    match length.parse::<u8>() {
        Ok(length) if length <= 32 => Ok(()),
        _ => Err(format!("{prefix}: prefix length must be 0..=32")),
    }
}

fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("{kind} name {name:?}: 1-63 of [A-Za-z0-9_-]"))
    }
}

impl Inventory {
    pub fn parse(text: &str) -> Result<Self, RenderError> {
        let inventory: Inventory = toml::from_str(text)?;
        inventory.validate().map_err(RenderError::Invalid)?;
        Ok(inventory)
    }

    fn validate(&self) -> Result<(), String> {
        check_name("cluster", &self.cluster.name)?;
        if self.cluster.vips.is_empty() {
            return Err("cluster.vips: at least one anycast prefix".into());
        }
        for vip in &self.cluster.vips {
            check_prefix(vip)?;
        }
        if self.cluster.etcd.is_empty() {
            return Err("cluster.etcd: at least one endpoint".into());
        }
        let mut names = BTreeSet::new();
        for pop in &self.pops {
            check_name("pop", &pop.name)?;
            if pop.asn == 0 || pop.asn == 23_456 {
                return Err(format!("pop {}: ASN {} is reserved", pop.name, pop.asn));
            }
            if pop.prepend > 8 {
                return Err(format!("pop {}: more than 8 prepends is a misconfiguration", pop.name));
            }
            for community in &pop.communities {
                let valid = community
                    .split_once(':')
                    .is_some_and(|(a, b)| a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok());
                if !valid {
                    return Err(format!(
                        "pop {}: community {community:?} is not asn:value (16-bit each)",
                        pop.name
                    ));
                }
            }
            if pop.peers.is_empty() || pop.hosts.is_empty() {
                return Err(format!("pop {}: needs at least one peer and one host", pop.name));
            }
            for peer in &pop.peers {
                check_name("peer", &peer.name)?;
            }
            for host in &pop.hosts {
                check_name("host", &host.name)?;
                if !names.insert(host.name.clone()) {
                    return Err(format!("host {} appears twice", host.name));
                }
                if host.workers == 0 || host.workers > 256 {
                    return Err(format!("host {}: workers must be 1..=256", host.name));
                }
            }
        }
        for host in &self.control_hosts {
            check_name("host", &host.name)?;
            if !names.insert(host.name.clone()) {
                return Err(format!("host {} appears twice", host.name));
            }
            for service in &host.services {
                if service != "assigner" && service != "auth" {
                    return Err(format!("host {}: unknown service {service:?}", host.name));
                }
            }
        }
        Ok(())
    }

    /// Every host's files: host name → (file name → contents).
    pub fn render(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, RenderError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).map_err(|source| RenderError::Template {
                name: name.into(),
                source,
            })?;
        }
        let render = |name: &str, ctx: minijinja::Value| -> Result<String, RenderError> {
            env.get_template(name)
                .and_then(|template| template.render(ctx))
                .map_err(|source| RenderError::Template {
                    name: name.into(),
                    source,
                })
        };
        // The node listens on the first VIP's address: clients' tokens name it, whichever PoP
        // they reach.
        let game_ip = self.cluster.vips[0].split('/').next().unwrap_or_default();
        let mut out = BTreeMap::new();
        for pop in &self.pops {
            for host in &pop.hosts {
                let host_view = context! {
                    name => &host.name,
                    address => host.address.to_string(),
                    router_id => host.address.to_string(),
                    interface => &host.interface,
                    workers => host.workers,
                    capacity_players => host.capacity_players,
                    game_addr => SocketAddr::from((game_ip.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED), self.cluster.game_port)).to_string(),
                    metrics_addr => SocketAddr::from((host.address, self.cluster.metrics_port)).to_string(),
                };
                let pop_view = context! {
                    name => &pop.name,
                    asn => pop.asn,
                    med => pop.med,
                    prepend => pop.prepend,
                    communities => pop.communities.iter().map(|c| c.replace(':', ",")).collect::<Vec<_>>(),
                    bfd => pop.bfd,
                    peers => pop.peers.iter().map(|peer| context! {
                        name => &peer.name,
                        address => peer.address.to_string(),
                        asn => peer.asn,
                        description => if peer.description.is_empty() { peer.name.clone() } else { peer.description.clone() },
                        multihop => peer.multihop,
                    }).collect::<Vec<_>>(),
                };
                let ctx = context! {
                    host => host_view,
                    pop => pop_view,
                    vips => &self.cluster.vips,
                    etcd => &self.cluster.etcd,
                    vip_protocol => VIP_PROTOCOL,
                    bird_socket => BIRD_SOCKET,
                    hold_time_s => HOLD_TIME_S,
                    keepalive_time_s => KEEPALIVE_TIME_S,
                    bfd_interval_ms => BFD_INTERVAL_MS,
                    bfd_multiplier => BFD_MULTIPLIER,
                };
                let mut files = BTreeMap::new();
                for name in [
                    "bird.conf",
                    "meridian-node.service",
                    "meridian-anycast.service",
                    "node.env",
                ] {
                    files.insert(name.to_owned(), render(name, ctx.clone())?);
                }
                out.insert(host.name.clone(), files);
            }
        }
        for host in &self.control_hosts {
            let mut files = BTreeMap::new();
            for service in &host.services {
                let extra_flags = if service == "auth" {
                    format!(" --listen {}:443", host.address)
                } else {
                    String::new()
                };
                let ctx = context! {
                    host => context! { name => &host.name },
                    service => service,
                    etcd => &self.cluster.etcd,
                    extra_flags => extra_flags,
                };
                files.insert(
                    format!("meridian-{service}.service"),
                    render("meridian-control.service", ctx)?,
                );
            }
            out.insert(host.name.clone(), files);
        }
        Ok(out)
    }
}

/// Renders `inventory` into `out/<host>/<file>`.
pub fn render_to(inventory: &Inventory, out: &Path) -> Result<usize, RenderError> {
    let mut written = 0;
    for (host, files) in inventory.render()? {
        let dir = out.join(&host);
        std::fs::create_dir_all(&dir).map_err(|source| RenderError::Write {
            path: dir.display().to_string(),
            source,
        })?;
        for (name, contents) in files {
            let path = dir.join(name);
            std::fs::write(&path, contents).map_err(|source| RenderError::Write {
                path: path.display().to_string(),
                source,
            })?;
            written += 1;
        }
    }
    Ok(written)
}
