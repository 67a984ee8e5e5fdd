//! The endpoint cache: the last good endpoint list of each object resolved through a
//! discovery, kept in a file of its own under the communicator's
//! [`cache_dir`](super::CommunicatorBuilder::cache_dir), and read at start when the first
//! lookup fails (TarsGo's `.tarsdat`, TarsCpp's `AppCache`).
//!
//! One file per object and lookup, named after them (`App.Server.Obj.endpoints`,
//! `App.Server.Obj@set-app.sz.1.endpoints`, `App.Server.Obj@all.endpoints`; characters other
//! than letters, digits, `.`, `_` and `-` are written `%XX`). The file is text, one item a
//! line, and ends with `end`, so that a file cut short is seen as such:
//!
//! ```text
//! tars-rpc endpoint cache v1
//! object App.Server.Obj
//! lookup same-group
//! active tcp -h 10.0.0.1 -p 10000 -t 60000
//! inactive tcp -h 10.0.0.2 -p 10000 -t 60000
//! end
//! ```
//!
//! A file is written whole to a temporary file beside it, synced, then renamed over the old
//! one, so that a reader sees the old list or the new one, never a mix. A file that does not
//! read as above, or names another object or lookup, is ignored with a warning.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::warn;

use super::discovery::{Instances, Lookup};
use crate::endpoint::Endpoint;

/// The first line of every cache file.
const HEADER: &str = "tars-rpc endpoint cache v1";

/// A larger file is not read: no endpoint list comes near it.
const MAX_FILE_LEN: u64 = 4 * 1024 * 1024;

/// The cache file of one object and lookup.
#[derive(Debug, Clone)]
pub(super) struct CacheFile {
    path: PathBuf,
    object: String,
    lookup: Lookup,
}

impl CacheFile {
    /// The file of `object` looked up with `lookup`, in `dir`.
    pub(super) fn new(dir: &Path, object: &str, lookup: &Lookup) -> Self {
        let mut name = escape(object);
        match lookup {
            Lookup::SameGroup => {}
            Lookup::SameSet(division) => {
                name.push_str("@set-");
                name.push_str(&escape(division));
            }
            Lookup::Any => name.push_str("@any"),
            Lookup::All => name.push_str("@all"),
        }
        name.push_str(".endpoints");
        Self {
            path: dir.join(name),
            object: object.to_string(),
            lookup: lookup.clone(),
        }
    }

    /// Where the file is.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The list the file holds: `None` if there is no file, or (with a warning) if it cannot
    /// be read or is not a cache file of this object and lookup.
    pub(super) fn read(&self) -> Option<Instances> {
        let path = self.path.display();
        let text = match fs::metadata(&self.path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
            Ok(metadata) if metadata.len() > MAX_FILE_LEN => {
                warn!(%path, bytes = metadata.len(), "endpoint cache file too long; ignored");
                return None;
            }
            _ => match fs::read_to_string(&self.path) {
                Ok(text) => text,
                Err(error) => {
                    warn!(%path, %error, "cannot read the endpoint cache file; ignored");
                    return None;
                }
            },
        };
        match decode(&text, &self.object, &self.lookup) {
            Ok(instances) => Some(instances),
            Err(error) => {
                warn!(%path, error, "corrupt endpoint cache file; ignored");
                None
            }
        }
    }

    /// Replaces the file with `instances`: written to a temporary file beside it, synced and
    /// renamed over it. Makes the directory if needed.
    pub(super) fn write(&self, instances: &Instances) -> io::Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temporary = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(encode(&self.object, &self.lookup, instances).as_bytes())?;
            file.sync_all()?;
            fs::rename(&temporary, &self.path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }
}

/// `text` with every character but ASCII letters, digits, `.`, `_` and `-` written `%XX` (each
/// byte of its UTF-8), so that distinct names give distinct file names.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            escaped.push(char::from(byte));
        } else {
            let _ = write!(escaped, "%{byte:02X}");
        }
    }
    escaped
}

fn lookup_line(lookup: &Lookup) -> String {
    match lookup {
        Lookup::SameGroup => "same-group".to_string(),
        Lookup::SameSet(division) => format!("same-set {division}"),
        Lookup::Any => "any".to_string(),
        Lookup::All => "all".to_string(),
    }
}

/// The text of a cache file.
fn encode(object: &str, lookup: &Lookup, instances: &Instances) -> String {
    let mut text = format!(
        "{HEADER}\nobject {object}\nlookup {}\n",
        lookup_line(lookup)
    );
    for endpoint in &instances.active {
        let _ = writeln!(text, "active {endpoint}");
    }
    for endpoint in &instances.inactive {
        let _ = writeln!(text, "inactive {endpoint}");
    }
    text.push_str("end\n");
    text
}

/// The list in the text of a cache file of `object` and `lookup`, or why it is not one.
fn decode(text: &str, object: &str, lookup: &Lookup) -> Result<Instances, String> {
    let mut lines = text.lines();
    let expect = |what: &str, line: Option<&str>| match line {
        Some(line) if line == what => Ok(()),
        Some(line) => Err(format!("expected `{what}`, found `{line}`")),
        None => Err(format!("expected `{what}`, found the end of the file")),
    };
    expect(HEADER, lines.next())?;
    expect(&format!("object {object}"), lines.next())?;
    expect(&format!("lookup {}", lookup_line(lookup)), lines.next())?;
    let mut instances = Instances::default();
    for line in lines.by_ref() {
        if line == "end" {
            return match lines.next() {
                None => Ok(instances),
                Some(line) => Err(format!("`{line}` after `end`")),
            };
        }
        let (list, endpoint) = match line.split_once(' ') {
            Some(("active", endpoint)) => (&mut instances.active, endpoint),
            Some(("inactive", endpoint)) => (&mut instances.inactive, endpoint),
            _ => return Err(format!("unexpected line `{line}`")),
        };
        let endpoint: Endpoint = endpoint.parse().map_err(|error| format!("{error}"))?;
        list.push(endpoint);
    }
    Err("no `end` line: the file was cut short".to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn instances() -> Instances {
        Instances {
            active: vec![
                Endpoint::new("10.0.0.1", 10000).with_timeout(Duration::from_secs(60)),
                Endpoint::new("::1", 10001).with_static_weight(30),
            ],
            inactive: vec![Endpoint::new("10.0.0.2", 10000)],
        }
    }

    #[test]
    fn a_list_reads_back_as_written() {
        let text = encode("App.Server.Obj", &Lookup::SameGroup, &instances());
        assert_eq!(
            text,
            "tars-rpc endpoint cache v1\nobject App.Server.Obj\nlookup same-group\n\
             active tcp -h 10.0.0.1 -p 10000 -t 60000\n\
             active tcp -h ::1 -p 10001 -v 1 -w 30\n\
             inactive tcp -h 10.0.0.2 -p 10000\nend\n"
        );
        assert_eq!(
            decode(&text, "App.Server.Obj", &Lookup::SameGroup),
            Ok(instances())
        );
        let empty = encode("A.B.C", &Lookup::All, &Instances::default());
        assert_eq!(
            decode(&empty, "A.B.C", &Lookup::All),
            Ok(Instances::default())
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let text = encode("App.Server.Obj", &Lookup::SameGroup, &instances());
        let object = "App.Server.Obj";
        let cut = &text[..text.len() - "end\n".len()];
        assert!(decode(cut, object, &Lookup::SameGroup)
            .unwrap_err()
            .contains("cut short"));
        // cut inside a line
        assert!(decode(&text[..60], object, &Lookup::SameGroup).is_err());
        assert!(decode(&text, "Other.Server.Obj", &Lookup::SameGroup).is_err());
        assert!(decode(&text, object, &Lookup::SameSet("a.b.c".into())).is_err());
        assert!(decode(&format!("{text}more\n"), object, &Lookup::SameGroup).is_err());
        let bad = text.replace("-p 10000", "-p many");
        assert!(decode(&bad, object, &Lookup::SameGroup).is_err());
        assert!(decode("", object, &Lookup::SameGroup).is_err());
        assert!(decode("\u{0}\u{1}garbage", object, &Lookup::SameGroup).is_err());
    }

    #[test]
    fn names_are_escaped_and_distinct() {
        let dir = Path::new("/cache");
        let name = |object: &str, lookup: &Lookup| {
            let file = CacheFile::new(dir, object, lookup);
            file.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(
            name("App.Server.Obj", &Lookup::SameGroup),
            "App.Server.Obj.endpoints"
        );
        assert_eq!(
            name("App.Server.Obj", &Lookup::SameSet("app.sz.*".into())),
            "App.Server.Obj@set-app.sz.%2A.endpoints"
        );
        assert_eq!(
            name("App.Server.Obj", &Lookup::All),
            "App.Server.Obj@all.endpoints"
        );
        assert_eq!(name("../x/y", &Lookup::Any), "..%2Fx%2Fy@any.endpoints");
        assert_ne!(
            name("a@any", &Lookup::SameGroup),
            name("a", &Lookup::Any),
            "a name cannot pass for a lookup"
        );
    }

    #[test]
    fn files_are_replaced_whole() {
        let dir = std::env::temp_dir().join(format!(
            "tars-rpc-cache-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        let file = CacheFile::new(&dir.join("made"), "A.B.C", &Lookup::SameGroup);
        assert_eq!(file.read(), None, "no file yet");
        file.write(&instances()).unwrap();
        assert_eq!(file.read(), Some(instances()));
        let one = Instances::active(vec![Endpoint::new("10.0.0.9", 1)]);
        file.write(&one).unwrap();
        assert_eq!(file.read(), Some(one));
        // no temporary file is left behind
        let names: Vec<_> = fs::read_dir(dir.join("made")).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        fs::write(file.path(), "tars-rpc endpoint cache v1\nobject A.B.C\n").unwrap();
        assert_eq!(file.read(), None, "a file cut short is ignored");
        let _ = fs::remove_dir_all(&dir);
    }
}
