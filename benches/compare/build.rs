//! Points the comparison at two peers' private maskers, in their published
//! sources.
//!
//! tungstenite and tokio-websockets keep their maskers in private modules.
//! Rather than keep copies of their code in this repository, this script
//! asks `cargo metadata` where the registry sources of the resolved versions
//! are and writes, into `OUT_DIR`, one small Rust file per peer that compiles
//! the peer's own `mask.rs` from there (see `src/peers.rs`):
//!
//! - `tokio_websockets_mask.rs`: `#[path = "…/src/mask.rs"] mod inner;`. The
//!   module needs nothing from the rest of its crate.
//! - `tungstenite_mask.rs`: a stand-in `rand` module, then `include!` of
//!   `…/src/protocol/frame/mask.rs`. That module's `generate_mask` calls
//!   `rand::random()`; the stand-in answers the name (the function is never
//!   called here), so the peer's text is compiled unchanged.
//!
//! It also sets `COMPARE_RUSTC_VERSION` to the output of `rustc -V` (the
//! compiler cargo runs, `RUSTC`), which `src/machine.rs` prints above every
//! table.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The peers, each with its module's path under the package root.
const PEERS: &[(&str, &str)] = &[
    ("tungstenite", "src/protocol/frame/mask.rs"),
    ("tokio-websockets", "src/mask.rs"),
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.toml");
    println!("cargo::rerun-if-changed=Cargo.lock");

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc (version unknown)".to_string());
    println!("cargo::rustc-env=COMPARE_RUSTC_VERSION={version}");

    let cargo = env::var_os("CARGO").expect("CARGO is set for build scripts");
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    // `--offline`: the build that runs this script has already fetched every
    // dependency of the target it builds for, these two among them, and
    // nothing else. `--filter-platform` keeps cargo to those: without it,
    // cargo wants the packages of every platform in its cache (wasm-only
    // ones such as `bumpalo` among them) and fails on a fresh machine.
    let target = env::var("TARGET").expect("TARGET is set for build scripts");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &target,
            "--manifest-path",
        ])
        .arg(manifest_dir.join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
    let packages = metadata["packages"].as_array().expect("packages array");

    for &(name, module) in PEERS {
        let found: Vec<&Value> = packages.iter().filter(|p| p["name"] == name).collect();
        assert!(
            found.len() == 1,
            "expected one resolved `{name}` package, found {}",
            found.len()
        );
        let manifest = Path::new(found[0]["manifest_path"].as_str().expect("manifest_path"));
        let source = manifest.parent().expect("package root").join(module);
        assert!(source.is_file(), "{} is missing", source.display());
        println!("cargo::rerun-if-changed={}", source.display());
        // Debug formatting quotes and escapes the path as a string literal.
        let path = format!("{:?}", source.to_str().expect("UTF-8 path"));

        let (file, text) = match name {
            "tungstenite" => (
                "tungstenite_mask.rs",
                format!(
                    "/// Answers `rand::random()` in `generate_mask`, never called here.\n\
                     mod rand {{\n    \
                         pub fn random() -> [u8; 4] {{\n        \
                             unreachable!(\"the comparison never generates a key\")\n    \
                         }}\n\
                     }}\n\
                     include!({path});\n"
                ),
            ),
            _ => (
                "tokio_websockets_mask.rs",
                format!("#[path = {path}]\nmod inner;\npub use inner::frame;\n"),
            ),
        };
        fs::write(out_dir.join(file), text).expect("write to OUT_DIR");
    }
}
