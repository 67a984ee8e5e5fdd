//! Node peers several tests share: `serverf_server.js`, a stand-in tarsnode.

use std::process::{Child, ChildStdin};
use std::sync::mpsc;
use std::time::Duration;

use super::spawn_node;

const WAIT: Duration = Duration::from_secs(20);

/// `serverf_server.js`: a `ServerF` servant printing the calls it gets.
pub struct NodeServerF {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    port: u16,
}

impl NodeServerF {
    pub fn start() -> Self {
        let (child, stdin, lines) = spawn_node(&["serverf_server.js", "0"]);
        let ready = lines
            .recv_timeout(WAIT)
            .expect("serverf_server.js prints READY in time");
        let port = ready
            .strip_prefix("READY ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("expected `READY <port>`, got {ready:?}"));
        Self {
            child,
            stdin: Some(stdin),
            lines,
            port,
        }
    }

    pub fn node_object(&self) -> String {
        format!(
            "tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p {} -t 60000",
            self.port
        )
    }

    /// The next call it printed, if one comes within `wait` (off the runtime's worker).
    pub fn next(&self, wait: Duration) -> Option<String> {
        tokio::task::block_in_place(|| self.lines.recv_timeout(wait).ok())
    }
}

impl Drop for NodeServerF {
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
