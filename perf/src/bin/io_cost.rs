//! `io_cost`: what one datagram costs the worker thread, per I/O backend, at the same offered rate.
//!
//! A blaster thread offers `--rate` datagrams per second (`--payload` bytes each) from `--flows`
//! source sockets to a worker thread that receives each datagram and sends a reply of the same size
//! (an echo, the shape of a zone worker answering inputs). The worker's own CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) divided by the datagrams it handled is the cost. Backends run back to
//! back in one process: io_uring (multishot recvmsg + provided buffers + batched SendMsg), recvmmsg /
//! sendmmsg, and a plain tokio `UdpSocket` loop (the baseline). With `--crypto` the worker also opens
//! and re-seals each datagram with ChaCha20-Poly1305, the protocol's AEAD.
//!
//! `--ceiling` measures the machine's raw loopback ceiling instead: one thread sends with sendmmsg
//! as fast as it can, one receives with recvmmsg, and the received rate is reported.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, aead::AeadInOut};
use clap::Parser;
use meridian_node::{
    cpu_time::{process_cpu_ns, thread_cpu_ns},
    dgram_io::{self, DatagramIoConfig, IoBackend},
};

#[derive(Parser)]
struct Args {
    /// Offered datagrams per second.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Seconds per backend.
    #[arg(long, default_value_t = 4)]
    seconds: u64,
    /// Payload bytes per datagram (an input packet is about 100).
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Source sockets the blaster spreads datagrams over (distinct peers).
    #[arg(long, default_value_t = 64)]
    flows: usize,
    /// Also open and seal every datagram with ChaCha20-Poly1305.
    #[arg(long)]
    crypto: bool,
    /// Measure the raw sendmmsg→recvmmsg loopback ceiling instead.
    #[arg(long)]
    ceiling: bool,
    /// Print one JSON object per result.
    #[arg(long)]
    json: bool,
    /// Run only these backends (repeatable; default all three), e.g. to profile one at a time.
    #[arg(long, value_enum)]
    backend: Vec<Backend>,
    /// io_uring only: submit through a kernel SQPOLL thread that idles after this many ms (0 = off).
    /// Its CPU shows in the process column, not the worker column.
    #[arg(long, default_value_t = 0)]
    sqpoll_idle_ms: u32,
    /// io_uring only: let receive completions gather this many µs after the first (min-wait).
    #[arg(long, default_value_t = 0)]
    uring_min_wait_us: u32,
    /// Provided receive buffers (io_uring) / recvmmsg batch (recvmmsg); default: the library's.
    #[arg(long)]
    recv_buffers: Option<usize>,
    /// Send every datagram on its own (no UDP GSO coalescing of equal-size runs to one peer).
    #[arg(long)]
    no_gso: bool,
}

/// Voluntary context switches of the calling thread so far: how often it slept waiting.
fn thread_sleeps() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Per-datagram work besides I/O: nothing, or AEAD open + seal in place.
struct Crypto {
    cipher: Option<ChaCha20Poly1305>,
    counter: u64,
}

const TAG_BYTES: usize = 16;
const HEADER_BYTES: usize = 8;

impl Crypto {
    fn new(enabled: bool) -> Self {
        Self {
            cipher: enabled.then(|| ChaCha20Poly1305::new(&[7u8; 32].into())),
            counter: 0,
        }
    }

    /// Opens `datagram` (8-byte clear header, sealed body, tag) and reseals it into `reply` the way
    /// the protocol does (header as associated data); returns the reply length.
    fn process(&mut self, datagram: &[u8], reply: &mut Vec<u8>) -> Option<usize> {
        reply.clear();
        reply.extend_from_slice(datagram);
        let Some(cipher) = &self.cipher else {
            return Some(reply.len());
        };
        let split = reply.len().checked_sub(TAG_BYTES)?;
        if split < HEADER_BYTES {
            return None;
        }
        let (sealed, tag) = reply.split_at_mut(split);
        let (header, body) = sealed.split_at_mut(HEADER_BYTES);
        let nonce = nonce_for(u64::from_le_bytes((&*header).try_into().ok()?));
        let tag_in = chacha20poly1305::Tag::try_from(&*tag).ok()?;
        cipher
            .decrypt_inout_detached(&nonce, header, body.into(), &tag_in)
            .ok()?;
        self.counter += 1;
        header.copy_from_slice(&self.counter.to_le_bytes());
        let tag_out = cipher
            .encrypt_inout_detached(&nonce_for(self.counter), header, body.into())
            .ok()?;
        tag.copy_from_slice(&tag_out);
        Some(reply.len())
    }
}

fn nonce_for(sequence: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&sequence.to_le_bytes());
    nonce.into()
}

/// Datagrams the blaster sends: an 8-byte clear header (the sequence, which picks the nonce), a
/// body, and a tag; sealed when crypto is on, so the worker's open succeeds.
fn make_datagrams(count: usize, payload: usize, crypto: bool) -> Vec<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(&[7u8; 32].into());
    (0..count as u64)
        .map(|seq| {
            let mut d = vec![0x5a; payload.max(HEADER_BYTES + TAG_BYTES)];
            d[..HEADER_BYTES].copy_from_slice(&seq.to_le_bytes());
            if crypto {
                let split = d.len() - TAG_BYTES;
                let (sealed, tag_out) = d.split_at_mut(split);
                let (header, body) = sealed.split_at_mut(HEADER_BYTES);
                let tag = cipher
                    .encrypt_inout_detached(&nonce_for(seq), header, body.into())
                    .unwrap();
                tag_out.copy_from_slice(&tag);
            }
            d
        })
        .collect()
}

/// Replies sent, and how many of them left as segments of a UDP GSO send.
#[derive(Debug, Clone, Copy, Default)]
struct SendCounts {
    sent: u64,
    sent_gso: u64,
    /// Times the worker thread went to sleep waiting for datagrams.
    worker_sleeps: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    IoUring,
    Mmsg,
    Tokio,
}

struct Outcome {
    backend: Backend,
    handled: u64,
    worker_cpu_ns: u64,
    /// Whole-process CPU minus the blaster (main) thread's: the worker plus any kernel thread
    /// working for it (SQPOLL, io-wq), so moving work off the worker thread does not hide it.
    serving_cpu_ns: u64,
    offered: u64,
    sends: SendCounts,
    wall: Duration,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if args.ceiling {
        let pps = loopback_ceiling(Duration::from_secs(args.seconds), args.payload)?;
        println!(
            "loopback ceiling (sendmmsg→recvmmsg, {} B): {:.0} datagrams/s  [cores {cores}, kernel {}]",
            args.payload,
            pps,
            kernel.trim()
        );
        if args.json {
            println!("{{\"ceiling_pps\":{pps:.0},\"payload\":{}}}", args.payload);
        }
        return Ok(());
    }
    let backends: Vec<Backend> = [Backend::Tokio, Backend::Mmsg, Backend::IoUring]
        .into_iter()
        .filter(|b| args.backend.is_empty() || args.backend.contains(b))
        .collect();
    let mut outcomes = Vec::new();
    for backend in backends {
        let outcome = run_backend(backend, &args).with_context(|| format!("{backend:?}"))?;
        outcomes.push(outcome);
    }
    let cost = |o: &Outcome| o.worker_cpu_ns as f64 / o.handled.max(1) as f64;
    let serving_cost = |o: &Outcome| o.serving_cpu_ns as f64 / o.handled.max(1) as f64;
    let find = |b: Backend| outcomes.iter().find(|o| o.backend == b);
    let tokio = find(Backend::Tokio);
    let mmsg = find(Backend::Mmsg);
    println!(
        "I/O cost per datagram (offered {} pps, {} B, {} flows, crypto {}, GSO {}, io_uring sqpoll {}, min-wait {} us; cores {cores}, kernel {}):",
        args.rate,
        args.payload,
        args.flows,
        if args.crypto { "on" } else { "off" },
        if args.no_gso { "off" } else { "on" },
        if args.sqpoll_idle_ms > 0 {
            format!("{} ms idle", args.sqpoll_idle_ms)
        } else {
            "off".into()
        },
        args.uring_min_wait_us,
        kernel.trim()
    );
    println!("  worker = the worker thread's CPU; process = all threads but the blaster (worker + kernel io threads)");
    let ratio = |num: Option<f64>, den: Option<f64>| match (num, den) {
        (Some(n), Some(d)) => format!("{:.2}", n / d),
        _ => "-".into(),
    };
    for o in &outcomes {
        println!(
            "  {:<8} worker {:>6.0} ns/dgram  process {:>6.0} ns/dgram  handled {:>8} of {:>8} ({:.1}%)  \
             tokio/this {}x (process {}x)  this/recvmmsg {} (process {})  replies via GSO {:.0}%  datagrams per worker sleep {:.1}",
            format!("{:?}", o.backend),
            cost(o),
            serving_cost(o),
            o.handled,
            o.offered,
            100.0 * o.handled as f64 / o.offered.max(1) as f64,
            ratio(tokio.map(cost), Some(cost(o))),
            ratio(tokio.map(serving_cost), Some(serving_cost(o))),
            ratio(Some(cost(o)), mmsg.map(cost)),
            ratio(Some(serving_cost(o)), mmsg.map(serving_cost)),
            100.0 * o.sends.sent_gso as f64 / o.sends.sent.max(1) as f64,
            o.handled as f64 / o.sends.worker_sleeps.max(1) as f64,
        );
        if args.json {
            println!(
                "{{\"backend\":\"{:?}\",\"ns_per_datagram\":{:.1},\"process_ns_per_datagram\":{:.1},\"handled\":{},\"offered\":{},\"crypto\":{},\"sqpoll_idle_ms\":{},\"wall_s\":{:.2}}}",
                o.backend,
                cost(o),
                serving_cost(o),
                o.handled,
                o.offered,
                args.crypto,
                args.sqpoll_idle_ms,
                o.wall.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn run_backend(backend: Backend, args: &Args) -> anyhow::Result<Outcome> {
    let server = UdpSocket::bind("127.0.0.1:0")?;
    let server_addr = server.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let handled = Arc::new(AtomicU64::new(0));
    let crypto = args.crypto;
    let io_config = DatagramIoConfig {
        sqpoll_idle_ms: args.sqpoll_idle_ms,
        recv_min_wait_us: args.uring_min_wait_us,
        udp_gso: !args.no_gso,
        recv_buffers: args.recv_buffers.unwrap_or(DatagramIoConfig::default().recv_buffers),
        ..DatagramIoConfig::default()
    };
    let process_start = process_cpu_ns();
    let blaster_start = thread_cpu_ns();
    let worker = {
        let (stop, handled) = (Arc::clone(&stop), Arc::clone(&handled));
        // Named so a profile can tell it from the blaster (`perf report --comms worker`).
        std::thread::Builder::new()
            .name("worker".into())
            .spawn(move || -> anyhow::Result<(u64, SendCounts)> {
                let start = thread_cpu_ns();
                let sleeps_start = thread_sleeps();
                let mut sends = match backend {
                    Backend::Tokio => tokio_echo(server, &stop, &handled, crypto)?,
                    Backend::Mmsg => batched_echo(IoBackend::Mmsg, server, &io_config, &stop, &handled, crypto)?,
                    Backend::IoUring => batched_echo(IoBackend::IoUring, server, &io_config, &stop, &handled, crypto)?,
                };
                sends.worker_sleeps = thread_sleeps() - sleeps_start;
                Ok((thread_cpu_ns() - start, sends))
            })?
    };
    let started = Instant::now();
    let offered = blast(server_addr, args, Duration::from_secs(args.seconds))?;
    // Let the worker finish what is queued, then stop it.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (worker_cpu_ns, sends) = worker.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
    // The worker has exited and dropped its ring (an SQPOLL thread ends with it), so the process
    // clock now holds everything spent serving; the blaster is this (main) thread.
    let blaster_cpu_ns = thread_cpu_ns() - blaster_start;
    let serving_cpu_ns = (process_cpu_ns() - process_start).saturating_sub(blaster_cpu_ns);
    Ok(Outcome {
        backend,
        handled: handled.load(Ordering::Relaxed),
        worker_cpu_ns,
        serving_cpu_ns,
        offered,
        sends,
        wall: started.elapsed(),
    })
}

/// Sends `args.rate` datagrams per second for `duration`, paced in batches of 32 per flow turn.
fn blast(to: SocketAddr, args: &Args, duration: Duration) -> anyhow::Result<u64> {
    let flows: Vec<UdpSocket> = (0..args.flows)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    let datagrams = make_datagrams(1024, args.payload, args.crypto);
    const BATCH: u64 = 32;
    let batch_interval = Duration::from_secs_f64(BATCH as f64 / args.rate as f64);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut next = started;
    while started.elapsed() < duration {
        let flow = &flows[(sent / BATCH) as usize % flows.len()];
        for i in 0..BATCH {
            let d = &datagrams[((sent + i) % datagrams.len() as u64) as usize];
            // A full socket buffer is the worker falling behind; it shows as handled < offered.
            let _ = flow.send_to(d, to);
        }
        sent += BATCH;
        next += batch_interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    Ok(sent)
}

fn batched_echo(
    backend: IoBackend,
    socket: UdpSocket,
    config: &DatagramIoConfig,
    stop: &AtomicBool,
    handled: &AtomicU64,
    crypto: bool,
) -> anyhow::Result<SendCounts> {
    let mut io = dgram_io::open(backend, socket, config)?;
    let mut crypto = Crypto::new(crypto);
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(4096);
    let mut spare: Vec<Vec<u8>> = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        io.recv_batch(Duration::from_millis(5), &mut |datagram, peer| {
            let mut reply = spare.pop().unwrap_or_default();
            if crypto.process(datagram, &mut reply).is_some() {
                replies.push((reply, peer));
            }
        })?;
        for (reply, peer) in replies.drain(..) {
            io.queue_send(&reply, peer);
            spare.push(reply);
        }
        io.flush()?;
        handled.store(io.stats().datagrams_received, Ordering::Relaxed);
    }
    Ok(SendCounts {
        sent: io.stats().datagrams_sent,
        sent_gso: io.stats().datagrams_sent_gso,
        worker_sleeps: 0,
    })
}

fn tokio_echo(socket: UdpSocket, stop: &AtomicBool, handled: &AtomicU64, crypto: bool) -> anyhow::Result<SendCounts> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        socket.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(socket)?;
        let mut crypto = Crypto::new(crypto);
        let mut buf = vec![0u8; 2048];
        let mut reply = Vec::with_capacity(2048);
        let mut count = 0u64;
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(5), socket.recv_from(&mut buf)).await {
                Ok(Ok((n, peer))) => {
                    count += 1;
                    if crypto.process(&buf[..n], &mut reply).is_some() && socket.send_to(&reply, peer).await.is_ok() {
                        sent += 1;
                    }
                    handled.store(count, Ordering::Relaxed);
                }
                Ok(Err(e)) => return Err(anyhow::Error::from(e)),
                Err(_) => {}
            }
        }
        Ok(SendCounts {
            sent,
            sent_gso: 0,
            worker_sleeps: 0,
        })
    })
}

/// Raw loopback ceiling: sendmmsg as fast as possible on one thread, recvmmsg on another.
fn loopback_ceiling(duration: Duration, payload: usize) -> anyhow::Result<f64> {
    let receiver = UdpSocket::bind("127.0.0.1:0")?;
    let to = receiver.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let rx = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || -> anyhow::Result<u64> {
            let mut io = dgram_io::open(
                IoBackend::Mmsg,
                receiver,
                &DatagramIoConfig {
                    recv_buffers: 1024,
                    send_queue: 1,
                    ..DatagramIoConfig::default()
                },
            )?;
            // Count only after a warm-up second, so start-up does not dilute the rate.
            while !stop.load(Ordering::Relaxed) {
                io.recv_batch(Duration::from_millis(5), &mut |_, _| {})?;
            }
            Ok(io.stats().datagrams_received)
        })
    };
    let sender = UdpSocket::bind("127.0.0.1:0")?;
    // Plain sendmmsg, as the issue defines the ceiling: with UDP GSO the sender would hand the
    // kernel 64 KiB runs to one peer and the "ceiling" would measure segmentation, not datagrams.
    let mut io = dgram_io::open(
        IoBackend::Mmsg,
        sender,
        &DatagramIoConfig {
            recv_buffers: 1,
            send_queue: 1024,
            udp_gso: false,
            ..DatagramIoConfig::default()
        },
    )?;
    let datagram = vec![0x5au8; payload];
    let started = Instant::now();
    while started.elapsed() < duration {
        for _ in 0..1024 {
            io.queue_send(&datagram, to);
        }
        io.flush()?;
    }
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let received = rx.join().map_err(|_| anyhow::anyhow!("receiver panicked"))??;
    Ok(received as f64 / elapsed.as_secs_f64())
}
