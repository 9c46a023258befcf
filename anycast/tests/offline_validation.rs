//! terraform and the Kubernetes manifests cannot be applied here (no terraform binary, no cluster):
//! `infra/tests/validate_offline.py` parses and checks what can be checked offline (python-hcl2,
//! checkov, kubernetes-validate; installed by `infra/setup.sh` into its venv). This runs it.

use std::path::Path;
use std::process::Command;

#[test]
fn terraform_and_kubernetes_manifests_validate_offline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv_python =
        Path::new(&std::env::var("MERIDIAN_VENV").unwrap_or_else(|_| "/opt/meridian/venv".into())).join("bin/python3");
    let python = if venv_python.is_file() {
        venv_python
    } else {
        "python3".into()
    };
    let output = Command::new(&python)
        .arg(root.join("infra/tests/validate_offline.py"))
        .output()
        .unwrap_or_else(|error| panic!("{}: {error} (run infra/setup.sh)", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "offline validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("offline validation: all good"), "{stdout}");
}
