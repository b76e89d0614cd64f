//! The task's answers to a wrong command and to a missing tool: a clear
//! message and a failing exit code, before anything is built.

use std::process::Command;

fn xtask(args: &[&str], path: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("PATH", path)
        .output()
        .expect("the xtask binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_command_is_named_with_the_usage() {
    let (code, stderr) = xtask(&["bogus"], "");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unknown command 'bogus'"), "{stderr}");
    assert!(stderr.contains("usage: cargo xtask <command>"), "{stderr}");
}

#[test]
fn a_missing_tool_is_named_with_how_to_install_it() {
    // An empty PATH: no wasm-bindgen (nor cargo), so nothing starts.
    let (code, stderr) = xtask(&["site"], "");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: wasm-bindgen is not on PATH")
            && stderr.contains("ensure_site_tools"),
        "{stderr}"
    );
}
