//! Builds the probe relay (relay/relay.c): a static executable rofs-audit carries and copies into
//! a helper container, so that probes reach an app on a remote engine from inside its network.
//! Where no static C build is possible (not Linux, or no static C library), the relay is left
//! empty, and rofs-audit says so when an audit needs it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=relay/relay.c");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("relay");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    // The engine's names for architectures (`docker version`'s Arch).
    let engine_arch = match arch.as_str() {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        other => other,
    };
    println!("cargo:rustc-env=ROFS_AUDIT_RELAY_ARCH={engine_arch}");
    let built = os == "linux" && {
        let compiler = cc::Build::new().cargo_metadata(false).get_compiler();
        let status = compiler
            .to_command()
            .args(["-static", "-Os", "-s", "-o"])
            .arg(&out)
            .arg("relay/relay.c")
            .status();
        matches!(status, Ok(s) if s.success())
    };
    if !built {
        println!(
            "cargo:warning=the probe relay was not built (a static C build for {arch}-{os} \
             failed): audits on remote engines will need ROFS_AUDIT_PROBE_FROM=host"
        );
        std::fs::write(&out, b"").expect("OUT_DIR is writable");
    }
}
