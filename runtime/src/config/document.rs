//! The parsed config file ([`Config`]), its domains ([`Domain`]), the parser and lookup paths.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::error::ConfigError;

/// A parsed TARS config file: nested domains of `key = value` parameters, read as TarsCpp's
/// `TC_Config` reads them (see the [module documentation](super) for the format).
///
/// Look values up with TarsCpp's paths: `/tars/application/server<app>` is the key `app` of the
/// domain `server` in `application` in `tars`.
///
/// ```
/// use tars_rpc::config::Config;
///
/// let config = Config::parse(
///     "<tars>\n  <application>\n    <server>\n      app = TestApp\n      \
///      <TestApp.HelloServer.HelloObjAdapter>\n        allow\n      \
///      </TestApp.HelloServer.HelloObjAdapter>\n    </server>\n  </application>\n</tars>\n",
/// )?;
/// assert_eq!(config.get("/tars/application/server<app>"), Some("TestApp"));
/// assert_eq!(
///     config.domain_names("/tars/application/server"),
///     ["TestApp.HelloServer.HelloObjAdapter"]
/// );
/// let adapter = config.domain("/tars/application/server/TestApp.HelloServer.HelloObjAdapter");
/// assert_eq!(adapter.and_then(|a| a.get("allow")), Some("")); // a key without `=`
/// # Ok::<(), tars_rpc::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    root: Domain,
}

impl Config {
    /// The largest config accepted, 16 MiB: tarsnode writes a few kilobytes, and a bound keeps a
    /// wrong file (a log, a core dump) from being read whole into memory.
    pub const MAX_SIZE: usize = 16 << 20;

    /// The deepest nesting of domains accepted, 64 (tarsnode writes 4): the parser's work per
    /// line grows with the depth.
    pub const MAX_DEPTH: usize = 64;

    /// The most keys and domains accepted, 2^20 (tarsnode writes about 50; a key or domain
    /// written again counts once). What a parsed config takes in memory grows with their number
    /// more than with the text's size: some 200 bytes a key and 260 a domain (measured: at the
    /// limit, 210 MB of keys or 280 MB of domains, from 6 to 16 MiB of text).
    pub const MAX_ENTRIES: usize = 1 << 20;

    /// Parses the text of a config file.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] with the line and domain path: an unclosed domain, a `</name>` that does
    /// not close the open domain, a `<` line without `>`, a bad `\` escape, nesting deeper than
    /// [`MAX_DEPTH`](Self::MAX_DEPTH), more than [`MAX_ENTRIES`](Self::MAX_ENTRIES) keys and
    /// domains, or text over [`MAX_SIZE`](Self::MAX_SIZE) bytes.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        if text.len() > Self::MAX_SIZE {
            return Err(ConfigError::TooLarge {
                size: text.len() as u64,
                limit: Self::MAX_SIZE as u64,
            });
        }
        parse(text)
    }

    /// Reads and parses a config file, e.g. the one tarsnode passes as `--config=FILE`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] if the file cannot be read; otherwise the errors of
    /// [`parse`](Self::parse), and [`ConfigError::NotUtf8`], wrapped in
    /// [`ConfigError::InFile`], which names the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let io = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let limit = Self::MAX_SIZE as u64;
        let too_large = |size| ConfigError::TooLarge { size, limit }.in_file(path);
        let size = file.metadata().map_err(io)?.len();
        if size > limit {
            return Err(too_large(size));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        // the file may grow between the check and the read: read one byte over, no more
        file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(too_large(bytes.len() as u64));
        }
        let text = String::from_utf8(bytes).map_err(|error| {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
            ConfigError::NotUtf8 { line }.in_file(path)
        })?;
        parse(&text).map_err(|error| error.in_file(path))
    }

    /// The top level: its children are the outermost domains (`tars`), and it holds any
    /// parameter written outside every domain.
    pub fn root(&self) -> &Domain {
        &self.root
    }

    /// The value at `path` (`/tars/application/server<app>`); `None` if the domain or the key is
    /// not there, or if `path` is malformed (see [`try_get`](Self::try_get) to tell them apart).
    /// A key written without `=` has the value `""`.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.try_get(path).ok().flatten()
    }

    /// The value at `path`, as [`get`](Self::get), telling a malformed path from a missing key.
    ///
    /// Empty segments are skipped, as TarsCpp does: `/tars/application/client/<locator>` is
    /// `/tars/application/client<locator>`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadPath`] if `path` does not start with `/`, has no `<key>`, or has text
    /// after the `>`.
    pub fn try_get(&self, path: &str) -> Result<Option<&str>, ConfigError> {
        let (domains, key) = split_param_path(path)?;
        Ok(self
            .root
            .descend(domains)
            .and_then(|domain| domain.get(key)))
    }

    /// The domain at `path` (`/tars/application/server`, or `/` for the [root](Self::root));
    /// `None` if it is not there or if `path` is malformed (see
    /// [`try_domain`](Self::try_domain)).
    pub fn domain(&self, path: &str) -> Option<&Domain> {
        self.try_domain(path).ok().flatten()
    }

    /// The domain at `path`, as [`domain`](Self::domain), telling a malformed path from a
    /// missing domain.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadPath`] if `path` does not start with `/` or holds a `<` or `>`.
    pub fn try_domain(&self, path: &str) -> Result<Option<&Domain>, ConfigError> {
        let domains = split_domain_path(path)?;
        Ok(self.root.descend(domains))
    }

    /// The names of the domains directly in the domain at `path`, in file order (TarsCpp's
    /// `getDomainVector`): the adapters of `/tars/application/server`. Empty if there is no
    /// such domain.
    pub fn domain_names(&self, path: &str) -> Vec<&str> {
        self.domain(path)
            .map(|domain| domain.children().map(Domain::name).collect())
            .unwrap_or_default()
    }
}

impl std::str::FromStr for Config {
    type Err = ConfigError;

    /// [`Config::parse`], for `text.parse::<Config>()`.
    fn from_str(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text)
    }
}

/// One domain of a [`Config`], `<name> ... </name>`: its parameters in file order, and the
/// domains in it.
///
/// A domain written twice in the same parent is one domain holding both parts, at the place of
/// the first; a key written twice keeps its last value, at the place of the last (TarsCpp's
/// `TC_ConfigDomain`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Domain {
    name: String,
    params: Vec<(String, String)>,
    param_index: HashMap<String, usize>,
    /// The parameter lines, each followed by `\n` (a line never holds one): one allocation
    /// rather than one per line.
    lines: String,
    children: Vec<Domain>,
    child_index: HashMap<String, usize>,
    /// How many entries of `params` a later duplicate replaced (their key is left empty and
    /// their index entry points elsewhere); removed at the end of parsing.
    replaced: usize,
}

impl Domain {
    fn new(name: String) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }

    /// The domain's name, `server` for `<server>` (trimmed; empty for the root).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of `key` in this domain (not in the domains in it); `""` for a key written
    /// without `=`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let index = *self.param_index.get(key)?;
        self.params.get(index).map(|(_, value)| value.as_str())
    }

    /// The parameters, `(key, value)`, in file order: a key written twice is at the place of its
    /// last line, with its last value.
    pub fn params(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.params
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The parameter lines as written (trimmed, escapes kept), every one in file order,
    /// duplicates included (TarsCpp's `getDomainLine`): for domains used as a list of lines
    /// rather than as keys.
    pub fn lines(&self) -> impl Iterator<Item = &str> + '_ {
        self.lines.split_terminator('\n')
    }

    /// The domains directly in this one, in file order.
    pub fn children(&self) -> impl ExactSizeIterator<Item = &Domain> + '_ {
        self.children.iter()
    }

    /// The domain called `name` directly in this one.
    pub fn child(&self, name: &str) -> Option<&Domain> {
        let index = *self.child_index.get(name)?;
        self.children.get(index)
    }

    fn descend<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<&Domain> {
        names
            .into_iter()
            .try_fold(self, |domain, name| domain.child(name))
    }

    /// The index of the child `name`, added if new (and then `true`).
    fn child_or_insert(&mut self, name: &str) -> (usize, bool) {
        if let Some(&index) = self.child_index.get(name) {
            return (index, false);
        }
        let index = self.children.len();
        self.children.push(Domain::new(name.to_string()));
        self.child_index.insert(name.to_string(), index);
        (index, true)
    }

    /// Sets `key`; `true` if it is new in this domain.
    fn set(&mut self, key: String, value: String) -> bool {
        let index = self.params.len();
        let old = self.param_index.insert(key.clone(), index);
        if let Some(old) = old {
            // TarsCpp moves the key to the end: leave a hole (removed below, or once parsing
            // ends) rather than shift every later key
            if let Some(entry) = self.params.get_mut(old) {
                *entry = Default::default();
            }
            self.replaced += 1;
        }
        self.params.push((key, value));
        // holes never outnumber the keys: a key repeated on every line stays small
        if self.replaced > 16 && self.replaced * 2 > self.params.len() {
            self.remove_holes();
        }
        old.is_none()
    }

    /// Removes the holes duplicates left, in every domain of the tree.
    fn compact(&mut self) {
        self.remove_holes();
        for child in &mut self.children {
            child.compact();
        }
    }

    fn remove_holes(&mut self) {
        if self.replaced > 0 {
            let index = &self.param_index;
            let mut position = 0;
            self.params.retain(|(key, _)| {
                let keep = index.get(key) == Some(&position);
                position += 1;
                keep
            });
            for (i, (key, _)) in self.params.iter().enumerate() {
                if let Some(place) = self.param_index.get_mut(key) {
                    *place = i;
                }
            }
            self.replaced = 0;
        }
    }
}

/// What TarsCpp trims from lines, keys and values (not every Unicode space, as `str::trim`).
const TRIMMED: [char; 4] = [' ', '\r', '\n', '\t'];

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_within(text, Config::MAX_ENTRIES)
}

/// [`parse`], with at most `max_entries` keys and domains.
fn parse_within(text: &str, max_entries: usize) -> Result<Config, ConfigError> {
    // a BOM is not text: editors on Windows add one, and @tars/utils drops it
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut root = Domain::new(String::new());
    // the open domains: each one's index in its parent, and the line that opened it
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut entries = 0usize;
    let mut count = |new: bool, line: usize| {
        entries += usize::from(new);
        if entries > max_entries {
            return Err(ConfigError::TooManyEntries {
                line,
                limit: max_entries,
            });
        }
        Ok(())
    };
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = raw.trim_matches(TRIMMED);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(tag) = line.strip_prefix('<') else {
            let (key, value) = split_param(line).map_err(|reason| ConfigError::BadEscape {
                line: number,
                path: path_of(&root, &open),
                text: line.to_string(),
                reason,
            })?;
            let current = domain_mut(&mut root, &open);
            current.lines.push_str(line);
            current.lines.push('\n');
            count(current.set(key, value), number)?;
            continue;
        };
        let Some(end) = tag.find('>') else {
            return Err(ConfigError::UnterminatedTag {
                line: number,
                path: path_of(&root, &open),
                text: line.to_string(),
            });
        };
        // TarsCpp ignores whatever follows the `>` on the line
        let inner = &tag[..end];
        if let Some(closing) = inner.strip_prefix('/') {
            let closing = closing.trim_matches(TRIMMED);
            if open.is_empty() {
                return Err(ConfigError::UnopenedClose {
                    line: number,
                    found: closing.to_string(),
                });
            }
            if domain(&root, &open).name != closing {
                return Err(ConfigError::MismatchedClose {
                    line: number,
                    path: path_of(&root, &open),
                    found: closing.to_string(),
                });
            }
            open.pop();
        } else {
            if open.len() >= Config::MAX_DEPTH {
                return Err(ConfigError::TooDeep {
                    line: number,
                    path: path_of(&root, &open),
                    limit: Config::MAX_DEPTH,
                });
            }
            let name = inner.trim_matches(TRIMMED);
            let (child, new) = domain_mut(&mut root, &open).child_or_insert(name);
            count(new, number)?;
            open.push((child, number));
        }
    }
    if let Some(&(_, line)) = open.last() {
        return Err(ConfigError::UnclosedDomain {
            line,
            path: path_of(&root, &open),
        });
    }
    root.compact();
    Ok(Config { root })
}

/// The domain the `open` indexes lead to from `root`.
fn domain<'a>(root: &'a Domain, open: &[(usize, usize)]) -> &'a Domain {
    open.iter()
        .fold(root, |domain, &(index, _)| &domain.children[index])
}

fn domain_mut<'a>(root: &'a mut Domain, open: &[(usize, usize)]) -> &'a mut Domain {
    open.iter()
        .fold(root, |domain, &(index, _)| &mut domain.children[index])
}

/// The path of the domain the `open` indexes lead to: `/tars/application`, `/` for the root.
fn path_of(root: &Domain, open: &[(usize, usize)]) -> String {
    if open.is_empty() {
        return "/".to_string();
    }
    let mut path = String::new();
    let mut domain = root;
    for &(index, _) in open {
        domain = &domain.children[index];
        path.push('/');
        path.push_str(&domain.name);
    }
    path
}

/// Splits a parameter line as TarsCpp does: at the first `=` not preceded by `\`, both sides
/// trimmed and unescaped; a line without `=` is a key with an empty value.
fn split_param(line: &str) -> Result<(String, String), String> {
    let bytes = line.as_bytes();
    let split = (0..bytes.len()).find(|&i| bytes[i] == b'=' && (i == 0 || bytes[i - 1] != b'\\'));
    match split {
        Some(at) => Ok((
            unescape(line[..at].trim_matches(TRIMMED))?,
            unescape(line[at + 1..].trim_matches(TRIMMED))?,
        )),
        None => Ok((unescape(line.trim_matches(TRIMMED))?, String::new())),
    }
}

/// TarsCpp's escapes in keys and values: `\\`, `\r`, `\n`, `\t` and `\=`; any other `\` is an
/// error, as in TarsCpp.
fn unescape(text: &str) -> Result<String, String> {
    if !text.contains('\\') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('=') => out.push('='),
            Some(other) => {
                return Err(format!(
                    "`\\{other}` is not an escape (`\\\\`, `\\r`, `\\n`, `\\t` and `\\=` are)"
                ))
            }
            None => return Err("a `\\` ends the text, escaping nothing".to_string()),
        }
    }
    Ok(out)
}

/// `/a/b<key>` into the domain names `a`, `b` and the key.
fn split_param_path(path: &str) -> Result<(impl Iterator<Item = &str>, &str), ConfigError> {
    let bad = |reason| ConfigError::BadPath {
        path: path.to_string(),
        reason,
    };
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad("a path starts with `/`"));
    };
    let Some((domains, key)) = rest.split_once('<') else {
        return Err(bad("a value's path ends with `<key>`"));
    };
    let Some((key, after)) = key.split_once('>') else {
        return Err(bad("`<key>` has no closing `>`"));
    };
    if !after.is_empty() {
        return Err(bad("text after `<key>`"));
    }
    if domains.contains('>') {
        return Err(bad("a `>` before `<key>`"));
    }
    Ok((segments(domains), key))
}

/// `/a/b` into the domain names `a`, `b`.
fn split_domain_path(path: &str) -> Result<impl Iterator<Item = &str>, ConfigError> {
    let bad = |reason| ConfigError::BadPath {
        path: path.to_string(),
        reason,
    };
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad("a path starts with `/`"));
    };
    if rest.contains(['<', '>']) {
        return Err(bad("a domain's path has no `<key>`"));
    }
    Ok(segments(rest))
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(domain: &Domain) -> Vec<(&str, &str)> {
        domain.params().collect()
    }

    #[test]
    fn reads_domains_keys_and_comments() {
        let config = Config::parse(
            "# top comment\n<tars>\n\t<application>\n  enableset = n \n\n  <server>\n  \
             app=TestApp\n  # app=Other\n  </server>\n  </application>\n</tars>\n",
        )
        .unwrap();
        assert_eq!(config.get("/tars/application<enableset>"), Some("n"));
        assert_eq!(
            "<tars>\nk=v\n</tars>"
                .parse::<Config>()
                .unwrap()
                .get("/tars<k>"),
            Some("v")
        );
        assert_eq!(config.get("/tars/application/server<app>"), Some("TestApp"));
        assert_eq!(config.domain_names("/tars"), ["application"]);
        assert_eq!(config.domain_names("/"), ["tars"]);
        assert_eq!(config.domain("/").map(Domain::name), Some(""));
        let server = config.domain("/tars/application/server").unwrap();
        assert_eq!(server.name(), "server");
        assert_eq!(params(server), [("app", "TestApp")]);
        assert!(config
            .domain("/tars")
            .unwrap()
            .child("application")
            .is_some());
    }

    #[test]
    fn values_keep_equals_signs_and_inner_spaces() {
        let config =
            Config::parse("<a>\n  locator = Q@tcp -h h -p 1 : x=y \n k=\n=v\n</a>").unwrap();
        let a = config.domain("/a").unwrap();
        assert_eq!(
            params(a),
            [("locator", "Q@tcp -h h -p 1 : x=y"), ("k", ""), ("", "v")]
        );
    }

    #[test]
    fn a_key_without_equals_has_an_empty_value() {
        let config = Config::parse("<a>\n  allow\n  key with space\n</a>").unwrap();
        assert_eq!(config.get("/a<allow>"), Some(""));
        assert_eq!(config.get("/a<key with space>"), Some(""));
        assert_eq!(config.get("/a<deny>"), None);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_at_its_last_place() {
        let config = Config::parse("<a>\nk=1\nz=2\nk=3\nk=4\n</a>").unwrap();
        let a = config.domain("/a").unwrap();
        assert_eq!(params(a), [("z", "2"), ("k", "4")]);
        assert_eq!(a.get("k"), Some("4"));
        assert_eq!(a.lines().collect::<Vec<_>>(), ["k=1", "z=2", "k=3", "k=4"]);
    }

    #[test]
    fn a_repeated_domain_is_one_domain_at_its_first_place() {
        let config =
            Config::parse("<a>\n<x>\nk=1\n</x>\n<y>\n</y>\n<x>\nj=2\n<z>\n</z>\n</x>\n</a>")
                .unwrap();
        assert_eq!(config.domain_names("/a"), ["x", "y"]);
        let x = config.domain("/a/x").unwrap();
        assert_eq!(params(x), [("k", "1"), ("j", "2")]);
        assert_eq!(config.domain_names("/a/x"), ["z"]);
    }

    #[test]
    fn empty_domains_and_names_are_trimmed() {
        let config = Config::parse("< a >\n<empty>\n</empty>\n</a >").unwrap();
        assert_eq!(config.domain_names("/a"), ["empty"]);
        let empty = config.domain("/a/empty").unwrap();
        assert_eq!(empty.params().len(), 0);
        assert_eq!(empty.children().len(), 0);
        // text after `>` is ignored, as TarsCpp does
        let config = Config::parse("<a> ignored\n</a> also").unwrap();
        assert!(config.domain("/a").is_some());
    }

    #[test]
    fn escapes_follow_tarscpp() {
        let config =
            Config::parse("<a>\n key\\=1 = v\\\\x\\ty\n b = c\\=d \n n=l1\\nl2\\r\n</a>").unwrap();
        assert_eq!(config.get("/a<key=1>"), Some("v\\x\ty"));
        assert_eq!(config.get("/a<b>"), Some("c=d"));
        assert_eq!(config.get("/a<n>"), Some("l1\nl2\r"));
        for (text, reason) in [
            ("<a>\nk = C:\\path\n</a>", "`\\p` is not an escape"),
            ("<a>\nk = v\\\n</a>", "a `\\` ends the text"),
        ] {
            match Config::parse(text) {
                Err(ConfigError::BadEscape {
                    line: 2,
                    path,
                    reason: found,
                    ..
                }) => {
                    assert_eq!(path, "/a");
                    assert!(found.starts_with(reason), "{found}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn crlf_bom_and_top_level_keys() {
        let config = Config::parse("\u{feff}top=1\r\n<a>\r\n\tk = v\r\n</a>\r\n").unwrap();
        assert_eq!(config.get("/<top>"), Some("1"));
        assert_eq!(config.get("/a<k>"), Some("v"));
        // only TarsCpp's blanks are trimmed: a no-break space stays
        let config = Config::parse("<a>\nk = \u{a0}v\n</a>").unwrap();
        assert_eq!(config.get("/a<k>"), Some("\u{a0}v"));
    }

    #[test]
    fn errors_give_the_line_and_the_domain() {
        let cases: [(&str, &str); 6] = [
            (
                "<tars>\n<application>\n</tars>",
                "line 3: </tars> does not close /tars/application, the domain open here",
            ),
            (
                "<tars>\n<application>\nk=v\n</application>\n",
                "line 1: domain /tars is opened here and never closed",
            ),
            ("</tars>", "line 1: </tars> closes no open domain"),
            (
                "<tars>\n<application\n</tars>",
                "line 2 in /tars: a domain tag without `>`: \"<application\"",
            ),
            (
                "<a>\n<b>\nk=\\x\n</b>\n</a>",
                "line 3 in /a/b: `\\x` is not an escape (`\\\\`, `\\r`, `\\n`, `\\t` and `\\=` are) in \"k=\\\\x\"",
            ),
            (
                "<a>\n<b>\n</b>\n<c>\n</c>\n",
                "line 1: domain /a is opened here and never closed",
            ),
        ];
        for (text, message) in cases {
            let error = Config::parse(text).unwrap_err();
            assert_eq!(error.to_string(), message, "{text:?}");
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let depth = Config::MAX_DEPTH;
        let nested = |levels: usize| {
            let mut text = String::new();
            for i in 0..levels {
                text.push_str(&format!("<d{i}>\n"));
            }
            for i in (0..levels).rev() {
                text.push_str(&format!("</d{i}>\n"));
            }
            text
        };
        assert!(Config::parse(&nested(depth)).is_ok());
        match Config::parse(&nested(depth + 1)) {
            Err(ConfigError::TooDeep { line, limit, path }) => {
                assert_eq!((line, limit), (depth + 1, depth));
                assert!(path.starts_with("/d0/d1/"), "{path}");
            }
            other => panic!("{other:?}"),
        }
        // keys and domains count alike; a key or domain written again counts once
        let within = "a\n<d>\nb\n</d>\na\n<d>\n</d>\n";
        assert!(parse_within(within, 3).is_ok());
        match parse_within(&format!("{within}c\n"), 3) {
            Err(ConfigError::TooManyEntries { line, limit }) => assert_eq!((line, limit), (8, 3)),
            other => panic!("{other:?}"),
        }
        match parse_within(&format!("{within}<e>\n</e>\n"), 3) {
            Err(ConfigError::TooManyEntries { line, limit }) => assert_eq!((line, limit), (8, 3)),
            other => panic!("{other:?}"),
        }
        let big = "#".repeat(Config::MAX_SIZE + 1);
        assert!(matches!(
            Config::parse(&big),
            Err(ConfigError::TooLarge { size, .. }) if size == Config::MAX_SIZE as u64 + 1
        ));
    }

    #[test]
    fn many_duplicates_stay_linear() {
        // 100k distinct keys, each written twice: quadratic removal would take minutes
        let mut text = String::from("<a>\n");
        for round in 0..2 {
            for i in 0..100_000 {
                text.push_str(&format!("k{i}={round}\n"));
            }
        }
        text.push_str("</a>\n");
        let config = Config::parse(&text).unwrap();
        let a = config.domain("/a").unwrap();
        assert_eq!(a.params().len(), 100_000);
        assert_eq!(a.params().next(), Some(("k0", "1")));
        assert_eq!(a.get("k99999"), Some("1"));
        assert_eq!(a.lines().count(), 200_000);
        // one key on every line leaves no trail
        let text = format!("<a>\n{}</a>\n", "k=v\n".repeat(100_000));
        let config = Config::parse(&text).unwrap();
        let a = config.domain("/a").unwrap();
        assert_eq!(params(a), [("k", "v")]);
        assert_eq!(a.lines().count(), 100_000);
    }

    #[test]
    fn paths_are_checked() {
        let config = Config::parse("<tars>\n<client>\nlocator=x\n</client>\n</tars>").unwrap();
        assert_eq!(config.get("/tars/client/<locator>"), Some("x"));
        assert_eq!(config.get("//tars//client<locator>"), Some("x"));
        assert_eq!(config.get("/tars/client<missing>"), None);
        assert_eq!(config.get("/tars/missing<locator>"), None);
        for bad in [
            "tars/client<locator>",
            "/tars/client",
            "/tars/client<locator",
            "/tars/client<locator>x",
            "/tars>/client<locator>",
        ] {
            assert!(
                matches!(config.try_get(bad), Err(ConfigError::BadPath { .. })),
                "{bad}"
            );
            assert_eq!(config.get(bad), None);
        }
        for bad in ["tars", "/tars<locator>"] {
            assert!(
                matches!(config.try_domain(bad), Err(ConfigError::BadPath { .. })),
                "{bad}"
            );
        }
        assert_eq!(config.try_domain("/nothing").unwrap(), None);
        assert!(config.domain_names("/nothing").is_empty());
    }

    #[test]
    fn files_are_named_in_errors() {
        let dir = std::env::temp_dir().join(format!("tars-config-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.conf");
        std::fs::write(&bad, "<tars>\n</server>\n").unwrap();
        let message = Config::from_file(&bad).unwrap_err().to_string();
        assert!(message.starts_with("config file "), "{message}");
        assert!(message.contains("bad.conf: line 2: </server>"), "{message}");

        let latin1 = dir.join("latin1.conf");
        std::fs::write(&latin1, b"<tars>\nname=caf\xe9\n</tars>\n").unwrap();
        let error = Config::from_file(&latin1).unwrap_err();
        assert!(
            matches!(&error, ConfigError::InFile { source, .. } if matches!(**source, ConfigError::NotUtf8 { line: 2 })),
            "{error:?}"
        );

        let missing = dir.join("missing.conf");
        let error = Config::from_file(&missing).unwrap_err();
        assert!(matches!(&error, ConfigError::Io { path, .. } if path == &missing));
        assert!(error.to_string().contains("missing.conf"), "{error}");

        let good = dir.join("good.conf");
        std::fs::write(&good, "<tars>\nk=v\n</tars>\n").unwrap();
        assert_eq!(Config::from_file(&good).unwrap().get("/tars<k>"), Some("v"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
