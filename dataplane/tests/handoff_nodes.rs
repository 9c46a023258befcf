//! Cross-node handoff decisions against a real etcd (testkit): the etcd arbiter answers each ticket
//! once, the same to both sides, whichever asks first — also when both ask at the same moment — and
//! etcd's route says who won. The worker side never waits: `ask` returns at once and the answer
//! comes on the worker's own queue.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use etcd_client::Client;
use meridian_control::routes::{Route, get_route, put_route};
use meridian_node::handoff::{ArbiterAnswer, ArbiterRequest, ArbiterVerdict, EtcdArbiter};
use meridian_testkit::Etcd;

struct Cluster {
    _etcd: Etcd,
    client: Client,
    runtime: tokio::runtime::Runtime,
    in_zone1: Route,
    in_zone2: Route,
}

/// Zone 1 on node a (worker 0), zone 2 on node b (worker 1), as the assigner would write them.
fn cluster() -> Cluster {
    let etcd = Etcd::start().expect("start etcd");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (client, token1, token2) = runtime.block_on(async {
        let mut client = Client::connect([etcd.endpoint()], None).await.expect("connect etcd");
        let token = |zone: u32, node: &'static str, worker: u32| {
            let mut client = client.clone();
            async move {
                client
                    .put(
                        format!("/meridian/assign/{zone}"),
                        format!(r#"{{"node":"{node}","worker":{worker}}}"#),
                        None,
                    )
                    .await
                    .unwrap()
                    .header()
                    .unwrap()
                    .revision()
            }
        };
        let token1 = token(1, "a", 0).await;
        let token2 = token(2, "b", 1).await;
        client.status().await.unwrap();
        (client, token1, token2)
    });
    Cluster {
        _etcd: etcd,
        client,
        runtime,
        in_zone1: Route {
            node: "a".into(),
            worker: 0,
            zone: 1,
            token: token1,
        },
        in_zone2: Route {
            node: "b".into(),
            worker: 1,
            zone: 2,
            token: token2,
        },
    }
}

fn wait_answer(answers: &Receiver<ArbiterAnswer>) -> ArbiterAnswer {
    answers
        .recv_timeout(Duration::from_secs(10))
        .expect("the arbiter answers every request")
}

fn route_of(cluster: &Cluster, session: u64) -> Route {
    let mut client = cluster.client.clone();
    cluster
        .runtime
        .block_on(get_route(&mut client, session))
        .unwrap()
        .expect("route")
        .0
}

fn put(cluster: &Cluster, session: u64, route: &Route) {
    let mut client = cluster.client.clone();
    cluster
        .runtime
        .block_on(put_route(&mut client, session, route))
        .unwrap();
}

#[test]
fn commit_first_wins_and_the_late_abort_learns_it() {
    let cluster = cluster();
    // Worker 0 is node a's (old owner), worker 1 node b's (new owner); one arbiter serves both here.
    let (arbiter, answers) = EtcdArbiter::start(cluster.runtime.handle(), cluster.client.clone(), 2);
    put(&cluster, 7, &cluster.in_zone1);
    let asked = Instant::now();
    arbiter
        .ask(
            1,
            ArbiterRequest::Commit {
                session_id: 7,
                ticket_id: 100,
                to: cluster.in_zone2.clone(),
            },
        )
        .unwrap();
    assert!(asked.elapsed() < Duration::from_millis(5), "asking never waits on etcd");
    let answer = wait_answer(&answers[1]);
    assert_eq!(answer.verdict, ArbiterVerdict::Committed);
    assert_eq!((answer.session_id, answer.ticket_id), (7, 100));
    assert_eq!(
        route_of(&cluster, 7),
        cluster.in_zone2,
        "etcd's route follows the player"
    );
    arbiter
        .ask(
            0,
            ArbiterRequest::Abort {
                session_id: 7,
                ticket_id: 100,
                owner: cluster.in_zone1.clone(),
                to: cluster.in_zone2.clone(),
            },
        )
        .unwrap();
    assert_eq!(wait_answer(&answers[0]).verdict, ArbiterVerdict::Committed);
    assert_eq!(route_of(&cluster, 7), cluster.in_zone2);
    // Asking again gets the same answer.
    arbiter
        .ask(
            1,
            ArbiterRequest::Commit {
                session_id: 7,
                ticket_id: 100,
                to: cluster.in_zone2.clone(),
            },
        )
        .unwrap();
    assert_eq!(wait_answer(&answers[1]).verdict, ArbiterVerdict::Committed);
}

#[test]
fn abort_first_keeps_the_player_and_the_late_commit_is_refused() {
    let cluster = cluster();
    let (arbiter, answers) = EtcdArbiter::start(cluster.runtime.handle(), cluster.client.clone(), 2);
    put(&cluster, 8, &cluster.in_zone1);
    arbiter
        .ask(
            0,
            ArbiterRequest::Abort {
                session_id: 8,
                ticket_id: 5,
                owner: cluster.in_zone1.clone(),
                to: cluster.in_zone2.clone(),
            },
        )
        .unwrap();
    assert_eq!(wait_answer(&answers[0]).verdict, ArbiterVerdict::Aborted);
    arbiter
        .ask(
            1,
            ArbiterRequest::Commit {
                session_id: 8,
                ticket_id: 5,
                to: cluster.in_zone2.clone(),
            },
        )
        .unwrap();
    assert_eq!(wait_answer(&answers[1]).verdict, ArbiterVerdict::Aborted);
    assert_eq!(route_of(&cluster, 8), cluster.in_zone1, "the player stayed on node a");
    // A later ticket of the same session moves it: the abort left a clean route behind.
    arbiter
        .ask(
            1,
            ArbiterRequest::Commit {
                session_id: 8,
                ticket_id: 6,
                to: cluster.in_zone2.clone(),
            },
        )
        .unwrap();
    assert_eq!(wait_answer(&answers[1]).verdict, ArbiterVerdict::Committed);
    assert_eq!(route_of(&cluster, 8), cluster.in_zone2);
}

#[test]
fn racing_commits_and_aborts_get_one_verdict_each_and_the_route_agrees() {
    let cluster = cluster();
    let (arbiter, answers) = EtcdArbiter::start(cluster.runtime.handle(), cluster.client.clone(), 2);
    const SESSIONS: u64 = 200;
    for session in 1_000..1_000 + SESSIONS {
        put(&cluster, session, &cluster.in_zone1);
    }
    // Both sides ask at once for every ticket, in alternating order.
    for session in 1_000..1_000 + SESSIONS {
        let commit = ArbiterRequest::Commit {
            session_id: session,
            ticket_id: 1,
            to: cluster.in_zone2.clone(),
        };
        let abort = ArbiterRequest::Abort {
            session_id: session,
            ticket_id: 1,
            owner: cluster.in_zone1.clone(),
            to: cluster.in_zone2.clone(),
        };
        if session % 2 == 0 {
            arbiter.ask(1, commit).unwrap();
            arbiter.ask(0, abort).unwrap();
        } else {
            arbiter.ask(0, abort).unwrap();
            arbiter.ask(1, commit).unwrap();
        }
    }
    let collect = |answers: &Receiver<ArbiterAnswer>| {
        let mut verdicts = std::collections::HashMap::new();
        for _ in 0..SESSIONS {
            let answer = wait_answer(answers);
            assert!(
                verdicts.insert(answer.session_id, answer.verdict).is_none(),
                "one answer per request"
            );
        }
        verdicts
    };
    let old_side = collect(&answers[0]);
    let new_side = collect(&answers[1]);
    let (mut committed, mut aborted) = (0, 0);
    for session in 1_000..1_000 + SESSIONS {
        let verdict = &old_side[&session];
        assert_eq!(
            verdict, &new_side[&session],
            "both sides learn the same fate of {session}"
        );
        let route = route_of(&cluster, session);
        match verdict {
            ArbiterVerdict::Committed => {
                committed += 1;
                assert_eq!(route, cluster.in_zone2);
            }
            ArbiterVerdict::Aborted => {
                aborted += 1;
                assert_eq!(route, cluster.in_zone1);
            }
            ArbiterVerdict::Undecided { reason } => panic!("session {session} undecided: {reason}"),
        }
    }
    assert_eq!(committed + aborted, SESSIONS);
    assert!(
        committed > 0 && aborted > 0,
        "both outcomes raced: {committed} / {aborted}"
    );
    eprintln!("racing tickets: {committed} committed, {aborted} aborted");
}

#[test]
fn a_stale_old_owner_cannot_abort() {
    let cluster = cluster();
    let (arbiter, answers) = EtcdArbiter::start(cluster.runtime.handle(), cluster.client.clone(), 1);
    put(&cluster, 9, &cluster.in_zone1);
    // Zone 1 moved to node c meanwhile (failover): node a's token is stale.
    let mut client = cluster.client.clone();
    cluster
        .runtime
        .block_on(client.put("/meridian/assign/1", r#"{"node":"c","worker":0}"#, None))
        .unwrap();
    arbiter
        .ask(
            0,
            ArbiterRequest::Abort {
                session_id: 9,
                ticket_id: 1,
                owner: cluster.in_zone1.clone(),
                to: cluster.in_zone2.clone(),
            },
        )
        .unwrap();
    assert!(matches!(
        wait_answer(&answers[0]).verdict,
        ArbiterVerdict::Undecided { .. }
    ));
    assert_eq!(route_of(&cluster, 9), cluster.in_zone1, "nothing written");
}
