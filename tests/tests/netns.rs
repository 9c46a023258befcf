//! Network-namespace topologies are created, reachable, and removed (also leftovers of dead runs).

use std::{net::UdpSocket, path::Path, time::Duration};

use meridian_testkit::{Netns, TwoHosts, remove_leftover_namespaces};

fn netns_exists(name: &str) -> bool {
    Path::new(&format!("/run/netns/{name}")).exists()
}

#[test]
fn two_hosts_exchange_udp_and_vanish_on_drop() {
    let (name_a, name_b);
    {
        let hosts = TwoHosts::new().expect("create topology");
        name_a = hosts.a.netns.clone();
        name_b = hosts.b.netns.clone();
        assert!(netns_exists(&name_a) && netns_exists(&name_b));
        let receiver = hosts
            .ns_b()
            .run(|| UdpSocket::bind((hosts.b.addr, 0)))
            .unwrap()
            .expect("bind in b");
        receiver.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let target = receiver.local_addr().unwrap();
        let sender = hosts
            .ns_a()
            .run(|| UdpSocket::bind((hosts.a.addr, 0)))
            .unwrap()
            .expect("bind in a");
        sender.send_to(b"hello b", target).unwrap();
        let mut buf = [0u8; 32];
        let (n, from) = receiver.recv_from(&mut buf).expect("datagram crossed the veth");
        assert_eq!(&buf[..n], b"hello b");
        assert_eq!(from.ip(), std::net::IpAddr::V4(hosts.a.addr));
        // The addresses exist only inside the namespaces, not in the test's own namespace.
        assert!(UdpSocket::bind((hosts.a.addr, 0)).is_err());
    }
    assert!(!netns_exists(&name_a), "{name_a} left behind");
    assert!(!netns_exists(&name_b), "{name_b} left behind");
}

#[test]
fn leftovers_of_dead_processes_are_removed_and_live_ones_kept() {
    // Creating a namespace runs the once-per-process cleanup; do it first, so that only the
    // explicit call below can remove the stale namespace made next.
    let live = Netns::new("live").expect("create live namespace");
    // pid 4194305 is above the kernel's maximum pid (2^22), so no live process can own it.
    let stale_name = format!("mrd-4194305-{}-stale", std::process::id());
    let stale = Netns::create_named(stale_name.clone()).expect("create stale namespace");
    std::mem::forget(stale); // as if the process that made it had been killed
    let removed = remove_leftover_namespaces().expect("cleanup");
    assert!(removed.contains(&stale_name), "removed {removed:?}");
    assert!(!netns_exists(&stale_name));
    assert!(
        netns_exists(live.name()),
        "a namespace of a running process was removed"
    );
}
