//! Adding a third shard to two: characters that now map to the new shard move with their items,
//! currency and ledger rows; nothing is lost or duplicated (the reconciliation and a before/after
//! comparison of every inventory and balance), an economy on the old map is told where the
//! character went, keys retried through the new map replay, and re-running the move is a no-op.

mod support;

use std::collections::BTreeMap;

use meridian_economy::{Economy, EconomyError, Operation};
use support::*;

async fn holdings(economy: &Economy, characters: &[i64]) -> BTreeMap<i64, (i64, Vec<uuid::Uuid>)> {
    let mut out = BTreeMap::new();
    for &c in characters {
        let items = economy
            .inventory(c)
            .await
            .expect("inventory")
            .iter()
            .map(|i| i.item_id)
            .collect();
        out.insert(c, (economy.balance(c).await.expect("balance"), items));
    }
    out
}

#[test]
fn adding_a_shard_moves_characters_without_loss_or_duplication() {
    let shards = start_shards(3);
    let old_map = shard_map(&shards[..2]);
    let new_map = old_map.with_shard(shards[2].connection_string());
    assert_eq!(new_map.version, old_map.version + 1);
    runtime().block_on(async {
        let old = Economy::connect(old_map.clone(), 4).await.expect("old economy");
        let characters: Vec<i64> = (1..=60).collect();
        seed(&old, &characters, 3, 100).await;
        // Some history, including cross-shard trades whose ledger rows sit on two shards.
        for (n, pair) in characters.windows(2).enumerate() {
            let item = old.inventory(pair[0]).await.unwrap()[0].item_id;
            let trade = Operation::Trade {
                a: pair[0],
                b: pair[1],
                a_items: vec![item],
                b_items: vec![],
                a_gold: 3,
                b_gold: 1,
            };
            old.apply(&request(format!("history-{n}"), trade)).await.expect("trade");
        }
        let before = holdings(&old, &characters).await;
        let expected_moves = characters
            .iter()
            .filter(|&&c| old_map.shard_of(c) != new_map.shard_of(c))
            .count();
        assert!(expected_moves > 5, "jump hashing sends about a third to the new shard");

        let new = Economy::connect(new_map.clone(), 4)
            .await
            .expect("new economy (migrates the new shard)");
        let report = new.move_characters().await.expect("move");
        assert_eq!(report.moved, expected_moves);
        assert_eq!(report.failed, 0);
        assert!(report.items > 0);
        assert_eq!(new.prepared_count().await.unwrap(), 0);

        let after = holdings(&new, &characters).await;
        assert_eq!(after, before, "every balance and inventory survived the move unchanged");
        let reconcile = new.reconcile().await.expect("reconcile");
        assert!(reconcile.ok(), "{:?}", reconcile.violations);
        assert_eq!(
            reconcile.characters,
            characters.len(),
            "each character on exactly one shard"
        );

        // An instance still on the old map is told where the character went (retryable).
        let moved = *characters
            .iter()
            .find(|&&c| old_map.shard_of(c) != new_map.shard_of(c))
            .unwrap();
        let other = *characters
            .iter()
            .find(|&&c| c != moved && old_map.shard_of(c) == new_map.shard_of(c))
            .unwrap();
        let mail = Operation::Mail {
            from: moved,
            to: other,
            items: vec![],
            gold: 1,
        };
        let refused = old.apply(&request("after-move", mail.clone())).await;
        assert_eq!(
            refused,
            Err(EconomyError::CharacterMoved {
                character: moved,
                to_shard: 2,
                map_version: new_map.version
            })
        );
        assert!(refused.unwrap_err().retryable());
        new.apply(&request("after-move", mail))
            .await
            .expect("through the new map");
        // A key applied before the move replays through the new map instead of applying again.
        let seed_again = Operation::Loot {
            character: moved,
            items: vec![sword()],
            gold: 100,
        };
        let replay = new
            .apply(&request(format!("seed-{moved}"), seed_again))
            .await
            .expect("replay");
        assert!(replay.replayed);

        // Idempotent: a second run finds nothing to move.
        let again = new.move_characters().await.expect("move again");
        assert_eq!(again.moved, 0);
        let reconcile = new.reconcile().await.expect("reconcile");
        assert!(reconcile.ok(), "{:?}", reconcile.violations);
    });
}
