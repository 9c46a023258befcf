//! The inventory renders every host's files exactly as committed under `infra/rendered/example/`
//! (golden files: regenerate with `MERIDIAN_UPDATE_GOLDEN=1 cargo test -p meridian-anycast --test
//! render` and review the diff), BIRD itself accepts every rendered bird.conf (`bird -p`), and bad
//! inventories are refused with a reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use meridian_anycast::render::{Inventory, RenderError};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example() -> Inventory {
    let text = std::fs::read_to_string(root().join("infra/inventory/example.toml")).unwrap();
    Inventory::parse(&text).expect("the example inventory is valid")
}

#[test]
fn the_example_inventory_renders_the_committed_golden_files() {
    let golden = root().join("infra/rendered/example");
    let rendered = example().render().unwrap();
    let update = std::env::var_os("MERIDIAN_UPDATE_GOLDEN").is_some();
    let mut compared = 0;
    for (host, files) in &rendered {
        for (name, contents) in files {
            let path = golden.join(host).join(name);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, contents).unwrap();
            }
            let expected = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("{} missing: render with MERIDIAN_UPDATE_GOLDEN=1", path.display()));
            assert_eq!(contents, &expected, "{} differs from the golden file", path.display());
            compared += 1;
        }
    }
    // 2 edge hosts × 4 files + ctl-1 (assigner, auth) + ctl-2 (assigner).
    assert_eq!(compared, 11);
    let fra = &rendered["fra1-edge-1"]["bird.conf"];
    assert!(
        fra.contains("bgp_med = 10;") && fra.contains("bgp_community.add((64500,100));"),
        "{fra}"
    );
    let ams = &rendered["ams1-edge-1"]["bird.conf"];
    assert!(
        ams.contains("bgp_med = 20;") && ams.contains("bgp_path.prepend(64512);"),
        "{ams}"
    );
    assert!(fra.contains("bfd on;") && fra.contains("protocol bfd"));
    let env = &rendered["fra1-edge-1"]["node.env"];
    assert!(
        env.contains("--listen 198.51.100.10:7777") && env.contains("--xdp-iface enp65s0f0"),
        "{env}"
    );
}

#[test]
fn bird_accepts_every_rendered_bird_conf() {
    if Command::new("bird").arg("--version").output().is_err() {
        panic!("bird (Debian's bird2) is not installed: run infra/setup.sh");
    }
    let dir = std::env::temp_dir().join(format!("meridian-render-{}", std::process::id()));
    for (host, files) in example().render().unwrap() {
        let Some(conf) = files.get("bird.conf") else { continue };
        let path = dir.join(format!("{host}.conf"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, conf).unwrap();
        let output = Command::new("bird").args(["-p", "-c"]).arg(&path).output().unwrap();
        assert!(
            output.status.success(),
            "bird -p refused {host}'s config: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inventories_are_refused_with_the_reason() {
    let good = std::fs::read_to_string(root().join("infra/inventory/example.toml")).unwrap();
    let cases = [
        (good.replace("198.51.100.10/32", "198.51.100.10/33"), "prefix length"),
        (good.replace("198.51.100.10/32", "not-an-address/32"), "bad IPv4"),
        (
            good.replace("name = \"ams1-edge-1\"", "name = \"fra1-edge-1\""),
            "appears twice",
        ),
        (
            good.replace("communities = [\"64500:100\"]", "communities = [\"64500-100\"]"),
            "community",
        ),
        (
            good.replace(
                "workers = 16\n  capacity_players = 20000\n\n[[pops]]",
                "workers = 0\n  capacity_players = 20000\n\n[[pops]]",
            ),
            "workers",
        ),
        (
            good.replace("services = [\"assigner\"]", "services = [\"dns\"]"),
            "unknown service",
        ),
        (
            good.replace("game_port = 7777", "game_port = 7777\nfrobnicate = true"),
            "unknown field",
        ),
        (
            good.replace("asn = 64512\n# Preferred", "asn = 0\n# Preferred"),
            "reserved",
        ),
    ];
    for (text, expected) in cases {
        match Inventory::parse(&text) {
            Err(error @ (RenderError::Invalid(_) | RenderError::Parse(_))) => {
                assert!(error.to_string().contains(expected), "{expected}: got {error}");
            }
            other => panic!("{expected}: expected a refusal, got {other:?}"),
        }
    }
}
