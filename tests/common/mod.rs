//! What several integration tests share: the Rust mirror of the interop IDL (the header of
//! `tests/node/codec_interop.js`) and helpers to run the Node peers in `tests/node`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};

use std::collections::BTreeMap;

use tars_rpc::{TarsEnum, TarsStruct};

pub mod interop;
pub mod node_peers;
pub mod slow_subscriber;
pub mod tars_client;

/// `enum Color { RED = 0, GREEN = 1, BLUE = 5 };`
#[derive(TarsEnum, Debug, Clone, Copy, PartialEq, Default)]
pub enum Color {
    #[default]
    Red = 0,
    Green = 1,
    Blue = 5,
}

/// `struct Inner { 0 require int id; 1 optional string name; };`
#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
#[tars(name = "Interop.Inner")]
pub struct Inner {
    #[tars(tag = 0)]
    pub id: i32,
    #[tars(tag = 1, optional)]
    pub name: String,
}

/// `struct AllTypes`, tag for tag.
#[derive(TarsStruct, Debug, Clone, PartialEq, Default)]
#[tars(name = "Interop.AllTypes")]
pub struct AllTypes {
    #[tars(tag = 0)]
    pub b: bool,
    #[tars(tag = 1)]
    pub i8v: i8,
    #[tars(tag = 2)]
    pub u8v: u8,
    #[tars(tag = 3)]
    pub i16v: i16,
    #[tars(tag = 4)]
    pub u16v: u16,
    #[tars(tag = 5)]
    pub i32v: i32,
    #[tars(tag = 6)]
    pub u32v: u32,
    #[tars(tag = 7)]
    pub i64v: i64,
    #[tars(tag = 8)]
    pub f32v: f32,
    #[tars(tag = 9)]
    pub f64v: f64,
    #[tars(tag = 10)]
    pub s: String,
    #[tars(tag = 11)]
    pub strs: Vec<String>,
    #[tars(tag = 12)]
    pub blob: Vec<u8>,
    #[tars(tag = 13)]
    pub scores: BTreeMap<String, i32>,
    #[tars(tag = 14)]
    pub inner: Inner,
    #[tars(tag = 15)]
    pub inners: Vec<Inner>,
    #[tars(tag = 16)]
    pub by_name: BTreeMap<String, Inner>,
    #[tars(tag = 17)]
    pub opt_present: Option<i32>,
    #[tars(tag = 18, optional)]
    pub opt_absent: String,
    #[tars(tag = 19)]
    pub color: Color,
    #[tars(tag = 20)]
    pub longs: Vec<i64>,
    #[tars(tag = 21)]
    pub nested: BTreeMap<i32, Vec<String>>,
    #[tars(tag = 22)]
    pub long_str: String,
    #[tars(tag = 30)]
    pub zero_f: f64,
}

pub fn inner(id: i32, name: &str) -> Inner {
    Inner {
        id,
        name: name.into(),
    }
}

/// The value `canonical()` builds in `codec_interop.js`.
pub fn canonical() -> AllTypes {
    AllTypes {
        b: true,
        i8v: -5,
        u8v: 200,
        i16v: -300,
        u16v: 60000,
        i32v: -70000,
        u32v: 4_000_000_000,
        i64v: -(1 << 40),
        f32v: 1.5,
        f64v: -2.25,
        s: "h\u{e9}llo w\u{f6}rld".into(),
        strs: vec!["a".into(), String::new(), "ccc".into()],
        blob: vec![0, 1, 2, 255],
        scores: [("alice".to_string(), 1), ("bob".to_string(), 100_000)].into(),
        inner: inner(7, "seven"),
        inners: vec![inner(1, "one"), inner(2, "")],
        by_name: [("x".to_string(), inner(3, "three"))].into(),
        opt_present: Some(42),
        opt_absent: String::new(),
        color: Color::Blue,
        longs: vec![0, -1, 1 << 40],
        nested: [(1, vec!["x".to_string()]), (2, vec![])].into(),
        long_str: "a".repeat(300),
        zero_f: 0.0,
    }
}

pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(hex: &str) -> Vec<u8> {
    assert!(
        hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "not an even-length hex string: {hex:?}"
    );
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

pub fn describe(output: &Output) -> String {
    format!(
        "{}; stdout: {:?}; stderr: {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `program args` in `tests/node`, failing with a clear message when it cannot start.
pub fn run_in_node_dir(program: &str, args: &[&str]) -> Output {
    match Command::new(program)
        .args(args)
        .current_dir(node_dir())
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => panic!(
            "`{program}` was not found on PATH: the Node interop tests need Node.js and npm \
             (https://nodejs.org); install them and run the tests again"
        ),
        Err(error) => panic!("could not run `{program} {}`: {error}", args.join(" ")),
    }
}

/// Checks that node runs and that `@tars/stream` is installed, running `npm ci` (or, failing
/// that, `npm install`) once for all tests of this binary.
pub fn ensure_node() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let version = run_in_node_dir("node", &["--version"]);
        if !version.status.success() {
            return Err(format!("`node --version` failed: {}", describe(&version)));
        }
        if node_dir().join("node_modules/@tars/stream").is_dir() {
            return Ok(());
        }
        let ci = run_in_node_dir("npm", &["ci", "--no-audit", "--no-fund"]);
        if ci.status.success() {
            return Ok(());
        }
        let install = run_in_node_dir("npm", &["install", "--no-audit", "--no-fund"]);
        if install.status.success() {
            return Ok(());
        }
        Err(format!(
            "installing @tars/stream in {} failed.\nnpm ci: {}\nnpm install: {}",
            node_dir().display(),
            describe(&ci),
            describe(&install)
        ))
    });
    if let Err(message) = ready {
        panic!("{message}");
    }
}

/// Starts `node args...` in `tests/node` (after [`ensure_node`]) with its stdin and stdout piped
/// and its stderr inherited: the child, its stdin, and the lines it prints, read on a thread of
/// their own (the channel closes when its stdout does).
pub fn spawn_node(args: &[&str]) -> (Child, ChildStdin, mpsc::Receiver<String>) {
    ensure_node();
    let mut child = Command::new("node")
        .args(args)
        .current_dir(node_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    (child, stdin, lines_of(stdout))
}

/// The lines a child prints on `stdout`, read on a thread of their own (the channel closes
/// when its stdout does).
pub fn lines_of(stdout: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    lines
}
