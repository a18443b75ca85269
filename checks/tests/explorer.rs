//! `quorate explore` end to end: the Explorer is served on loopback, headless Chromium loads it,
//! the page lists the protocol's properties, a step into a successor state shows that state,
//! and a screenshot is saved (`target/explorer-global.png`).
//!
//! Needs Debian's `chromium` (`.ci/run` installs it); `QUORATE_CHROMIUM` names another binary.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> PathBuf {
    let path = std::env::var_os("QUORATE_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "headless Chromium not found at {}: install Debian's chromium (apt-get install -y \
         chromium; .ci/run does) or set QUORATE_CHROMIUM to its path",
        path.display()
    );
    path
}

/// Kills the served Explorer when the test ends, pass or fail.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// `GET path` over HTTP/1.0; the body, or `None` while nothing listens.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.lines().next()?;
    status.contains(" 200 ").then(|| body.to_string())
}

fn chromium_run(url: &str, extra: &[&str], profile: &Path) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_explorer_shows_the_properties_and_steps_into_a_state_in_chromium() {
    let browser = chromium();
    let addr = free_addr();
    let child = Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args(["explore", "global", "--config", "records", "--addr"])
        .arg(addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _served = Served(child);
    let start = Instant::now();
    let status = loop {
        if let Some(body) = get(addr, "/.status") {
            break body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the Explorer did not come up on {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.contains("c1_switchover_keeps_acked"), "{status}");

    // The initial state, then one of its successors: the page's paths are action indices.
    let init: serde_json::Value = serde_json::from_str(&get(addr, "/.states").unwrap()).unwrap();
    let init = init[0]["actionIndex"].as_u64().expect("an initial state");
    let next_json = get(addr, &format!("/.states/{init}")).unwrap();
    let next: serde_json::Value = serde_json::from_str(&next_json).unwrap();
    let step = next
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["action"].as_str().is_some_and(|a| a.starts_with("Write")) && s["state"].is_string()
        })
        .expect("the primary can write first");
    let index = step["actionIndex"].as_u64().unwrap();

    let profile = std::env::temp_dir().join(format!("quorate-chromium-{}", std::process::id()));
    let url = format!("http://{addr}/#/steps/{init}/{index}");
    let dom = chromium_run(&url, &["--dump-dom"], &profile);
    assert!(
        dom.contains("c1_switchover_keeps_acked"),
        "the page lists the properties:\n{dom}"
    );
    assert!(dom.contains("Sometimes g1s_switchover_completes"), "{dom}");
    assert!(
        dom.contains("Write {"),
        "the path shows the step taken:\n{dom}"
    );
    assert!(
        dom.contains("T1") || dom.contains("txn: 1"),
        "the state after it is shown:\n{dom}"
    );

    let shot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target")
        .join("explorer-global.png");
    let _ = std::fs::remove_file(&shot);
    chromium_run(
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1000",
        ],
        &profile,
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a screenshot at {} ({size} bytes)",
        shot.display()
    );
    let _ = std::fs::remove_dir_all(profile);
    drop(browser);
}
