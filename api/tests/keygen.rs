//! `bangfu keygen` writes a key only its owner can read, never prints the secret, and refuses to
//! overwrite an existing key.

use std::process::Command;

#[test]
fn keygen_writes_an_owner_only_key_and_refuses_to_overwrite() {
    let dir = std::env::temp_dir().join(format!("bangfu-keygen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cadre.key");
    let _ = std::fs::remove_file(&path);
    let out = Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .args(["keygen", "--json", "--name", "张三", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(printed["public_key"], file["public_key"]);
    let secret = file["secret_key"].as_str().unwrap();
    assert_eq!(secret.len(), 44);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(secret),
        "secret printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = Command::new(env!("CARGO_BIN_EXE_bangfu"))
        .args(["keygen", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(after, file, "the existing key was changed");
    std::fs::remove_dir_all(&dir).unwrap();
}
