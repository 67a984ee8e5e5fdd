//! Node peers several tests share: `serverf_server.js`, a stand-in tarsnode,
//! `config_server.js`, a stand-in config center, and `stat_server.js`, the stat and property
//! services.

use std::process::{Child, ChildStdin};
use std::sync::mpsc;
use std::time::Duration;

use tokio::time::Instant;

use serde_json::Value;

use super::spawn_node;

const WAIT: Duration = Duration::from_secs(20);

/// A Node servant that prints `READY <port>`, then a line per call it gets:
/// `serverf_server.js` (a stand-in tarsnode, [`NodePeer::node`]) or `config_server.js` (a
/// stand-in config center, [`NodePeer::config_center`]).
pub struct NodePeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    port: u16,
    servant: &'static str,
}

impl NodePeer {
    fn start(script: &str, servant: &'static str) -> Self {
        let (child, stdin, lines) = spawn_node(&[script]);
        let ready = lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{script} prints READY in time"));
        let port = ready
            .strip_prefix("READY ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("expected `READY <port>`, got {ready:?}"));
        Self {
            child,
            stdin: Some(stdin),
            lines,
            port,
            servant,
        }
    }

    /// `serverf_server.js`: a `ServerF` servant printing the calls it gets.
    pub fn node() -> Self {
        Self::start("serverf_server.js", "tars.tarsnode.ServerObj")
    }

    /// `config_server.js`: a config center (`ConfigF`) printing the files asked for.
    pub fn config_center() -> Self {
        Self::start("config_server.js", "tars.tarsconfig.ConfigObj")
    }

    /// Its object, as a config's `node` or `config` names it.
    pub fn object(&self) -> String {
        format!(
            "{}@tcp -h 127.0.0.1 -p {} -t 60000",
            self.servant, self.port
        )
    }

    /// The next call it printed, if one comes within `wait` (off the runtime's worker).
    pub fn next(&self, wait: Duration) -> Option<String> {
        tokio::task::block_in_place(|| self.lines.recv_timeout(wait).ok())
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `JSON.stringify` prints for `s` (the characters these tests meet).
pub fn js_string(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `node stat_server.js`: its ports and the lines it prints; stopped (stdin closed, then
/// killed) when dropped.
pub struct NodeStat {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stat_port: u16,
    property_port: u16,
}

impl NodeStat {
    pub fn start() -> Self {
        let (child, stdin, lines) = spawn_node(&["stat_server.js"]);
        let ready = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("stat_server.js prints READY within 20 s");
        let ports: Vec<u16> = ready
            .strip_prefix("READY ")
            .map(|ports| ports.split(' ').filter_map(|p| p.parse().ok()).collect())
            .unwrap_or_default();
        let [stat_port, property_port] = ports[..] else {
            panic!("expected `READY <statPort> <propertyPort>`, got {ready:?}");
        };
        Self {
            child,
            stdin: Some(stdin),
            lines,
            stat_port,
            property_port,
        }
    }

    pub fn stat(&self) -> String {
        format!(
            "tars.tarsstat.StatObj@tcp -h 127.0.0.1 -p {}",
            self.stat_port
        )
    }

    pub fn property(&self) -> String {
        format!(
            "tars.tarsproperty.PropertyObj@tcp -h 127.0.0.1 -p {}",
            self.property_port
        )
    }

    /// The next report printed, waiting until `deadline` at most.
    pub fn next(&self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::task::block_in_place(|| self.lines.recv_timeout(left)).ok()?;
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("stat_server.js printed {line:?}: {error}"));
        assert_ne!(value["kind"], "error", "a report did not decode: {value}");
        Some(value)
    }
}

impl Drop for NodeStat {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
