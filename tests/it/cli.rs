//! The binary end to end: `--help` everywhere, `report` against a live demo mesh, `broker` on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use meshscope::demo::{DemoOptions, run};

use crate::support::{self, WAIT};

fn meshscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshscope"))
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["broker", "--help"],
        vec!["demo", "--help"],
        vec!["report", "--help"],
    ] {
        let out = meshscope().args(&args).output().expect("run meshscope");
        assert!(out.status.success(), "{args:?} failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: meshscope"), "{args:?}: {text}");
    }
    let out = meshscope()
        .args(["report"])
        .output()
        .expect("run meshscope");
    assert!(
        !out.status.success(),
        "report with neither --replay nor --broker is an error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replay"));
    let out = meshscope()
        .args(["report", "--broker", "mqtt://bad host:x", "--duration", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--broker"),
        "a bad URL is explained"
    );
}

#[test]
fn report_observes_a_live_demo_mesh() {
    let runtime = support::runtime();
    let broker = runtime.block_on(support::embedded_broker());
    let port = broker.local_addr().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let demo = runtime.spawn(run(DemoOptions::new("127.0.0.1", port), stopped));
    let out = meshscope()
        .args([
            "report",
            "--broker",
            &format!("mqtt://127.0.0.1:{port}"),
            "--duration",
            "4",
        ])
        .output()
        .expect("run meshscope report");
    let _ = stop.send(true);
    let _ = runtime.block_on(async { tokio::time::timeout(WAIT, demo).await });
    runtime.block_on(broker.shutdown());
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report is JSON");
    assert_eq!(report["meshscope_report"], 1);
    assert!(report["observed"]["messages"].as_u64().unwrap_or(0) > 20);
    let traces = report["traces"].as_array().expect("traces");
    for dialect in [
        "mqtt-agent-mcp",
        "mqtt-agent-a2a",
        "emqx-a2a",
        "emqx-mcp",
        "openmas",
        "mqtt5-rpc",
    ] {
        assert!(
            traces.iter().any(|t| t["dialect"] == dialect
                && t["outcome"] == "ok"
                && t["latency_micros"].is_u64()),
            "a paired {dialect} trace within 4 s of the demo mesh"
        );
    }
    let participants = report["participants"].as_array().expect("participants");
    assert!(
        participants
            .iter()
            .any(|p| p["id"] == "research-tools" && p["status"] == "online")
    );
}

#[test]
fn broker_subcommand_listens_on_loopback_only() {
    let port = support::free_port();
    let mut child = meshscope()
        .args(["broker", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start meshscope broker");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let read = stdout.read_line(&mut line);
    let reachable = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(5),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        read.is_ok() && line.contains(&format!("127.0.0.1:{port}")),
        "announces its loopback address: {line}"
    );
    assert!(reachable.is_ok(), "accepts connections on 127.0.0.1:{port}");
}
