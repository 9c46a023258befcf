//! Every operation against two real Postgres shards: happy paths (same shard and across shards),
//! idempotent repeats, every bad input (typed error, nothing changed), stale fencing tokens, and
//! the two-phase commit's recovery after a coordinator dies at each step.

mod support;

use std::time::Duration;

use meridian_economy::{Economy, EconomyError, Fence, NewItem, Operation, ops::CrashPoint};
use support::*;
use uuid::Uuid;

/// Everything observable about a set of characters: balances and inventories.
async fn snapshot(economy: &Economy, characters: &[i64]) -> Vec<(i64, i64, Vec<(Uuid, i16)>)> {
    let mut out = Vec::new();
    for &c in characters {
        let items = economy.inventory(c).await.expect("inventory");
        out.push((
            c,
            economy.balance(c).await.expect("balance"),
            items.iter().map(|i| (i.item_id, i.bag)).collect(),
        ));
    }
    out
}

#[test]
fn operations_on_two_real_shards() {
    let shards = start_shards(2);
    let map = shard_map(&shards);
    runtime().block_on(async {
        let economy = Economy::connect(map.clone(), 8).await.expect("connect + migrate");
        // Migrations are idempotent: a second start applies nothing and fails nothing.
        Economy::connect(map.clone(), 2).await.expect("second migrate");
        let on0 = ids_on(&map, 0, 3);
        let on1 = ids_on(&map, 1, 2);
        let (a, b, c, d) = (on0[0], on0[1], on1[0], on1[1]);
        let everyone = [a, b, c, d, on0[2]];
        seed(&economy, &everyone, 3, 100).await;

        // Loot: items created with the key-derived ids, gold credited.
        let loot = Operation::Loot {
            character: a,
            items: vec![sword(), sword()],
            gold: 50,
        };
        let applied = economy.apply(&request("loot-1", loot.clone())).await.expect("loot");
        assert!(!applied.replayed);
        assert_eq!(applied.outcome.created, loot.created_item_ids("loot-1"));
        assert_eq!(applied.outcome.balances, vec![(a, 150)]);
        assert_eq!(economy.inventory(a).await.unwrap().len(), 5);
        // Repeat: the first outcome, nothing applied again.
        let again = economy.apply(&request("loot-1", loot)).await.expect("repeat");
        assert!(again.replayed);
        assert_eq!(again.outcome, applied.outcome);
        assert_eq!(economy.balance(a).await.unwrap(), 150);
        assert_eq!(economy.inventory(a).await.unwrap().len(), 5);

        // Move between bags.
        let item = applied.outcome.created[0];
        let moved = Operation::MoveBag {
            character: a,
            item,
            bag: 3,
        };
        economy.apply(&request("move-1", moved.clone())).await.expect("move");
        economy.apply(&request("move-1", moved)).await.expect("move repeat");
        let bag = economy
            .inventory(a)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.item_id == item)
            .unwrap()
            .bag;
        assert_eq!(bag, 3);

        // Destroy.
        let destroyed = applied.outcome.created[1];
        economy
            .apply(&request(
                "destroy-1",
                Operation::Destroy {
                    character: a,
                    item: destroyed,
                },
            ))
            .await
            .expect("destroy");
        assert!(
            !economy
                .inventory(a)
                .await
                .unwrap()
                .iter()
                .any(|i| i.item_id == destroyed)
        );
        let repeat = economy
            .apply(&request(
                "destroy-1",
                Operation::Destroy {
                    character: a,
                    item: destroyed,
                },
            ))
            .await
            .expect("a repeated destroy replays rather than failing on the missing item");
        assert!(repeat.replayed);

        // Same-shard trade: items and gold swap both ways at once.
        let a_item = economy.inventory(a).await.unwrap()[0].item_id;
        let b_item = economy.inventory(b).await.unwrap()[0].item_id;
        let trade = Operation::Trade {
            a,
            b,
            a_items: vec![a_item],
            b_items: vec![b_item],
            a_gold: 30,
            b_gold: 5,
        };
        let traded = economy.apply(&request("trade-1", trade.clone())).await.expect("trade");
        assert_eq!(traded.gid, None, "one shard: no two-phase commit");
        assert_eq!(traded.outcome.balances, vec![(a, 125), (b, 125)]);
        assert!(economy.inventory(b).await.unwrap().iter().any(|i| i.item_id == a_item));
        assert!(economy.inventory(a).await.unwrap().iter().any(|i| i.item_id == b_item));
        assert!(economy.apply(&request("trade-1", trade)).await.unwrap().replayed);
        assert_eq!(economy.balance(a).await.unwrap(), 125);

        // Cross-shard trade through two-phase commit.
        let c_item = economy.inventory(c).await.unwrap()[0].item_id;
        let cross = Operation::Trade {
            a,
            b: c,
            a_items: vec![b_item],
            b_items: vec![c_item],
            a_gold: 25,
            b_gold: 0,
        };
        let traded = economy
            .apply(&request("trade-x", cross.clone()))
            .await
            .expect("cross-shard trade");
        assert!(traded.gid.is_some());
        assert_eq!(traded.outcome.balances, vec![(a, 100), (c, 125)]);
        let c_inventory = economy.inventory(c).await.unwrap();
        let moved = c_inventory
            .iter()
            .find(|i| i.item_id == b_item)
            .expect("item arrived on shard 1");
        assert_eq!(moved.stats, serde_json::json!({"damage": 12, "rarity": "rare"}));
        assert_eq!(moved.created_by_op, format!("seed-{b}"), "history kept across shards");
        assert!(economy.inventory(a).await.unwrap().iter().any(|i| i.item_id == c_item));
        let repeat = economy.apply(&request("trade-x", cross)).await.expect("repeat");
        assert!(repeat.replayed);
        assert_eq!(repeat.outcome, traded.outcome);
        assert_eq!(economy.balance(c).await.unwrap(), 125);

        // Cross-shard mail.
        let mail = Operation::Mail {
            from: c,
            to: b,
            items: vec![b_item],
            gold: 25,
        };
        economy.apply(&request("mail-1", mail.clone())).await.expect("mail");
        assert!(economy.inventory(b).await.unwrap().iter().any(|i| i.item_id == b_item));
        assert_eq!(economy.balance(c).await.unwrap(), 100);
        assert!(economy.apply(&request("mail-1", mail)).await.unwrap().replayed);
        assert_eq!(economy.balance(b).await.unwrap(), 150);

        // Bad input: each a typed error, and nothing changed anywhere.
        let before = snapshot(&economy, &everyone).await;
        let a_item = economy.inventory(a).await.unwrap()[0].item_id;
        let d_item = economy.inventory(d).await.unwrap()[0].item_id;
        let unknown = Uuid::new_v4();
        let cases: Vec<(Operation, EconomyError)> = vec![
            (
                Operation::Destroy {
                    character: a,
                    item: unknown,
                },
                EconomyError::UnknownItem(unknown),
            ),
            (
                Operation::Destroy {
                    character: b,
                    item: a_item,
                },
                EconomyError::NotOwned {
                    item: a_item,
                    character: b,
                },
            ),
            (
                Operation::Trade {
                    a,
                    b: d,
                    a_items: vec![a_item],
                    b_items: vec![unknown],
                    a_gold: 0,
                    b_gold: 0,
                },
                EconomyError::UnknownItem(unknown),
            ),
            (
                Operation::Mail {
                    from: a,
                    to: c,
                    items: vec![d_item],
                    gold: 0,
                },
                // d's item lives on shard 1; a's shard has never heard of it.
                EconomyError::UnknownItem(d_item),
            ),
            (
                Operation::Mail {
                    from: a,
                    to: c,
                    items: vec![],
                    gold: -5,
                },
                EconomyError::NegativeAmount(-5),
            ),
            (
                Operation::Trade {
                    a,
                    b,
                    a_items: vec![],
                    b_items: vec![],
                    a_gold: 0,
                    b_gold: -1,
                },
                EconomyError::NegativeAmount(-1),
            ),
            (
                Operation::Loot {
                    character: a,
                    items: vec![],
                    gold: -10,
                },
                EconomyError::NegativeAmount(-10),
            ),
            (
                Operation::Loot {
                    character: a,
                    items: vec![NewItem {
                        item_type: 1,
                        bag: 0,
                        stats: serde_json::json!({"blob": "x".repeat(2000)}),
                    }],
                    gold: 0,
                },
                EconomyError::StatsTooLarge { bytes: 2011, max: 1024 },
            ),
            (
                Operation::Trade {
                    a,
                    b: a,
                    a_items: vec![a_item],
                    b_items: vec![],
                    a_gold: 0,
                    b_gold: 0,
                },
                EconomyError::SelfTrade(a),
            ),
            (
                Operation::Mail {
                    from: c,
                    to: c,
                    items: vec![],
                    gold: 1,
                },
                EconomyError::SelfTrade(c),
            ),
            (
                Operation::Mail {
                    from: a,
                    to: d,
                    items: vec![a_item],
                    gold: 1_000_000,
                },
                EconomyError::InsufficientFunds {
                    character: a,
                    balance: 100,
                    needed: 1_000_000,
                },
            ),
            (
                Operation::Trade {
                    a: b,
                    b: c,
                    a_items: vec![],
                    b_items: vec![],
                    a_gold: 1,
                    b_gold: 10_000,
                },
                EconomyError::InsufficientFunds {
                    character: c,
                    balance: 100,
                    needed: 10_000,
                },
            ),
            (
                Operation::Mail {
                    from: a,
                    to: 999_999,
                    items: vec![],
                    gold: 1,
                },
                EconomyError::UnknownCharacter(999_999),
            ),
        ];
        for (index, (operation, expected)) in cases.into_iter().enumerate() {
            let result = economy.apply(&request(format!("bad-{index}"), operation.clone())).await;
            assert_eq!(result, Err(expected), "case {index}: {operation:?}");
            assert_eq!(
                snapshot(&economy, &everyone).await,
                before,
                "case {index} changed state"
            );
        }
        // A rejected key wrote nothing: the same key is free for a valid request.
        economy
            .apply(&request(
                "bad-0",
                Operation::MoveBag {
                    character: a,
                    item: a_item,
                    bag: 1,
                },
            ))
            .await
            .expect("rejected keys leave no ledger row");

        // Fencing: a higher token raises the zone's fence; the old token is refused from then on.
        let before = snapshot(&economy, &everyone).await;
        let mut fenced = request(
            "fence-1",
            Operation::MoveBag {
                character: a,
                item: a_item,
                bag: 2,
            },
        );
        fenced.fence = Fence { zone_id: 1, token: 2 };
        economy.apply(&fenced).await.expect("newer owner writes");
        let mut stale = request(
            "fence-2",
            Operation::MoveBag {
                character: a,
                item: a_item,
                bag: 4,
            },
        );
        stale.fence = Fence { zone_id: 1, token: 1 };
        assert_eq!(
            economy.apply(&stale).await,
            Err(EconomyError::StaleFence {
                zone_id: 1,
                token: 1,
                current: 2
            })
        );
        // The control plane raises the fence on every shard at reassignment, before the new
        // owner writes anything: the old owner's cross-shard trade is refused too.
        economy
            .raise_fence(Fence { zone_id: 1, token: 3 })
            .await
            .expect("raise");
        let mut stale = request(
            "fence-3",
            Operation::Mail {
                from: c,
                to: a,
                items: vec![],
                gold: 1,
            },
        );
        stale.fence = Fence { zone_id: 1, token: 2 };
        assert_eq!(
            economy.apply(&stale).await,
            Err(EconomyError::StaleFence {
                zone_id: 1,
                token: 2,
                current: 3
            })
        );
        let after = snapshot(&economy, &everyone).await;
        assert_eq!(
            after.iter().map(|s| s.1).collect::<Vec<_>>(),
            before.iter().map(|s| s.1).collect::<Vec<_>>()
        );
        let report = economy.reconcile().await.expect("reconcile");
        assert!(report.ok(), "{:?}", report.violations);

        // Two-phase commit: the coordinator dies at each step; recovery settles each.
        let fence3 = |key: &str, operation| {
            let mut r = request(key, operation);
            r.fence = Fence { zone_id: 1, token: 3 };
            r
        };
        for (index, crash) in [
            CrashPoint::BeforeDecision,
            CrashPoint::AfterDecision,
            CrashPoint::AfterFirstCommit,
        ]
        .into_iter()
        .enumerate()
        {
            let (b0, d0) = (economy.balance(b).await.unwrap(), economy.balance(d).await.unwrap());
            let key = format!("crash-{index}");
            let mail = Operation::Mail {
                from: b,
                to: d,
                items: vec![],
                gold: 10,
            };
            let result = economy.apply_crashing(&fence3(&key, mail.clone()), crash).await;
            assert!(
                matches!(result, Err(EconomyError::InDoubt { .. })),
                "{crash:?}: {result:?}"
            );
            assert!(
                economy.prepared_count().await.unwrap() >= 1,
                "{crash:?} left prepared transactions"
            );
            // While in doubt, a retry waits on the prepared locks and gives up: nothing applied twice.
            let retry = economy.apply(&fence3(&key, mail.clone())).await;
            assert!(matches!(retry, Err(EconomyError::Conflict(_))), "{crash:?}: {retry:?}");
            let report = economy.recover(Duration::ZERO).await.expect("recover");
            assert_eq!(report.unresolved, 0);
            assert_eq!(economy.prepared_count().await.unwrap(), 0);
            let committed = crash != CrashPoint::BeforeDecision;
            let expected = if committed { (b0 - 10, d0 + 10) } else { (b0, d0) };
            assert_eq!(
                (economy.balance(b).await.unwrap(), economy.balance(d).await.unwrap()),
                expected,
                "{crash:?}"
            );
            // The retry now replays (committed) or applies for the first time (rolled back).
            let retried = economy.apply(&fence3(&key, mail)).await.expect("retry after recovery");
            assert_eq!(retried.replayed, committed, "{crash:?}");
            assert_eq!(
                (economy.balance(b).await.unwrap(), economy.balance(d).await.unwrap()),
                (b0 - 10, d0 + 10),
                "{crash:?}: applied exactly once"
            );
        }
        let report = economy.reconcile().await.expect("reconcile");
        assert!(report.ok(), "{:?}", report.violations);
        assert_eq!(report.prepared, 0);
    });
}
