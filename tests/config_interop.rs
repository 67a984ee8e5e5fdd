//! `tars_rpc::config` reads TARS config files as `@tars/utils`' parser does
//! (`tests/node/config_dump.js`): the same domains, keys, values and lines, in the same order,
//! for the real files of `tests/data/config/` and for edge cases; and, for the edge cases where
//! the two differ on purpose (listed in `tars_rpc::config`'s documentation, following TarsCpp),
//! exactly that difference.
//!
//! Both sides print one canonical JSON line per file:
//! `{"name":"","params":[["key","value"],...],"lines":[...],"domains":[...]}`.

mod common;

use std::path::{Path, PathBuf};

use common::{describe, ensure_node, node_dir};
use tars_rpc::config::{Config, Domain};

/// `text` as JavaScript's `JSON.stringify` writes a string.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The dump `config_dump.js` prints, of the Rust parser's reading.
fn dump(domain: &Domain) -> String {
    let params: Vec<String> = domain
        .params()
        .map(|(key, value)| format!("[{},{}]", json_string(key), json_string(value)))
        .collect();
    let lines: Vec<String> = domain.lines().map(json_string).collect();
    let domains: Vec<String> = domain.children().map(dump).collect();
    format!(
        "{{\"name\":{},\"params\":[{}],\"lines\":[{}],\"domains\":[{}]}}",
        json_string(domain.name()),
        params.join(","),
        lines.join(","),
        domains.join(",")
    )
}

fn rust_dump(path: &Path) -> String {
    match Config::from_file(path) {
        Ok(config) => dump(config.root()),
        Err(error) => format!("error: {error}"),
    }
}

/// One line per file, from the Node parser.
fn node_dumps(files: &[PathBuf]) -> Vec<String> {
    ensure_node();
    let output = std::process::Command::new("node")
        .arg(node_dir().join("config_dump.js"))
        .args(files)
        .current_dir(node_dir())
        .output()
        .expect("node runs");
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), files.len(), "{stdout}");
    lines
}

/// TarsCpp (and the Rust parser) keep a key without `=` with the value "", @tars/utils with
/// `undefined` (printed as null): the one difference the real files show, taken out here.
fn bare_keys_as_empty(node: &str) -> String {
    node.replace(",null]", ",\"\"]")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

#[test]
fn real_files_read_the_same_as_with_tars_utils() {
    let files: Vec<PathBuf> = [
        "TestApp.HelloServer.config.conf",
        "tars.tarsconfig.config.conf",
        "tars.tarslog.config.conf",
        "tars.tarsnode.config.conf",
    ]
    .into_iter()
    .map(data)
    .collect();
    let node = node_dumps(&files);
    for (file, node) in files.iter().zip(node) {
        let rust = rust_dump(file);
        assert!(rust.starts_with("{\"name\":\"\""), "{rust}");
        assert!(
            node.contains(",null]"),
            "every file has a bare `allow`: {node}"
        );
        assert_eq!(rust, bare_keys_as_empty(&node), "{}", file.display());
    }
}

/// A scratch directory for the edge-case files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    /// A directory of its own for each test (they run in parallel).
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tars-config-interop-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn write(&self, index: usize, text: &str) -> PathBuf {
        let path = self.0.join(format!("case{index}.conf"));
        std::fs::write(&path, text).expect("write case");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The dump of a top level holding only the domain dumped as `inner`.
fn top(inner: &str) -> String {
    format!("{{\"name\":\"\",\"params\":[],\"lines\":[],\"domains\":[{inner}]}}")
}

#[test]
fn edge_cases_read_the_same() {
    let cases = [
        // comments, blank lines, tabs and spaces, `=` and `#` in values, empty values and keys
        "# comment\n\n<a>\n\t  k  =  v = w # not a comment \n\n  # k = other\nempty=\n= v\n</a>\n",
        // empty domains, and a domain written twice: one domain, at its first place
        "<a>\n<x>\nk=1\n</x>\n<y>\n</y>\n<x>\nj=2\n<z>\n</z>\n</x>\n</a>\n",
        // CRLF line ends and a BOM
        "\u{feff}<a>\r\n  k = v\r\n  <b>\r\n  </b>\r\n</a>\r\n",
        // keys outside every domain, and several top-level domains
        "top = 1\n<a>\n</a>\n<b>\nk=v\n</b>\n",
        // non-ASCII text, spaces inside keys and values, quotes
        "<données>\nclé = valeur été\nkey with spaces = \"quoted\" 'too'\n</données>\n",
        // deep nesting
        "<l1>\n<l2>\n<l3>\n<l4>\n<l5>\n<l6>\n<l7>\n<l8>\nk=8\n</l8>\n</l7>\n</l6>\n</l5>\n</l4>\n</l3>\n</l2>\n</l1>\n",
        // an empty file
        "",
    ];
    let scratch = Scratch::new("same");
    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, text)| scratch.write(i, text))
        .collect();
    let node = node_dumps(&files);
    for ((text, file), node) in cases.iter().zip(&files).zip(node) {
        let rust = rust_dump(file);
        assert!(!rust.starts_with("error"), "{text:?}: {rust}");
        assert_eq!(rust, node, "{text:?}");
    }
}

#[test]
fn edge_cases_differ_where_documented() {
    // (text, the Rust parser's reading as TarsCpp's, @tars/utils' reading)
    let cases: [(&str, String, String); 8] = [
        (
            // a key without `=`: "" in TarsCpp, undefined in @tars/utils
            "<a>\nallow\n</a>\n",
            top(r#"{"name":"a","params":[["allow",""]],"lines":["allow"],"domains":[]}"#),
            top(r#"{"name":"a","params":[["allow",null]],"lines":["allow"],"domains":[]}"#),
        ),
        (
            // a repeated key: at its last line in TarsCpp, at its first in a JavaScript object
            "<a>\nk=1\nz=2\nk=3\n</a>\n",
            top(
                r#"{"name":"a","params":[["z","2"],["k","3"]],"lines":["k=1","z=2","k=3"],"domains":[]}"#,
            ),
            top(
                r#"{"name":"a","params":[["k","3"],["z","2"]],"lines":["k=1","z=2","k=3"],"domains":[]}"#,
            ),
        ),
        (
            // keys that look like integers come first in a JavaScript object
            "<a>\nz=1\n10=2\n</a>\n",
            top(
                r#"{"name":"a","params":[["z","1"],["10","2"]],"lines":["z=1","10=2"],"domains":[]}"#,
            ),
            top(
                r#"{"name":"a","params":[["10","2"],["z","1"]],"lines":["z=1","10=2"],"domains":[]}"#,
            ),
        ),
        (
            // TarsCpp's escapes: `\=` does not split, and is an `=`; @tars/utils has none
            "<a>\nx\\=y = c\\\\d\n</a>\n",
            top(
                r#"{"name":"a","params":[["x=y","c\\d"]],"lines":["x\\=y = c\\\\d"],"domains":[]}"#,
            ),
            top(
                r#"{"name":"a","params":[["x\\","y = c\\\\d"]],"lines":["x\\=y = c\\\\d"],"domains":[]}"#,
            ),
        ),
        (
            // a key and a domain of the same name: one JavaScript property, where the domain's
            // keys cannot go
            "<a>\nb=1\n<b>\nc=2\n</b>\n</a>\n",
            top(
                r#"{"name":"a","params":[["b","1"]],"lines":["b=1"],"domains":[{"name":"b","params":[["c","2"]],"lines":["c=2"],"domains":[]}]}"#,
            ),
            r#"{"error":"Cannot create property 'c' on string '1'"}"#.to_string(),
        ),
        (
            // `</name>` is checked in TarsCpp
            "<a>\nk=v\n</b>\n",
            "error: config file FILE: line 3: </b> does not close /a, the domain open here"
                .to_string(),
            top(r#"{"name":"a","params":[["k","v"]],"lines":["k=v"],"domains":[]}"#),
        ),
        (
            // so is a domain left open
            "<a>\nk=v\n",
            "error: config file FILE: line 1: domain /a is opened here and never closed"
                .to_string(),
            top(r#"{"name":"a","params":[["k","v"]],"lines":["k=v"],"domains":[]}"#),
        ),
        (
            // TarsCpp ignores text after `>`; @tars/utils fails (assigning to a getter)
            "<a> trailing\n</a>\n",
            top(r#"{"name":"a","params":[],"lines":[],"domains":[]}"#),
            r#"{"error":"Cannot set property data of #<Configure> which has only a getter"}"#
                .to_string(),
        ),
    ];
    let scratch = Scratch::new("differ");
    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (text, _, _))| scratch.write(i, text))
        .collect();
    let node = node_dumps(&files);
    for (((text, rust_expected, node_expected), file), node) in cases.iter().zip(&files).zip(node) {
        let rust = rust_dump(file).replace(&file.display().to_string(), "FILE");
        assert_eq!(&rust, rust_expected, "Rust, {text:?}");
        assert_eq!(&node, node_expected, "@tars/utils, {text:?}");
        assert_ne!(rust, node, "{text:?} is a difference");
    }
}
