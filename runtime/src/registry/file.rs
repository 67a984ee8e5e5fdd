//! The endpoints file of a [`DevRegistry`](super::DevRegistry): its format and its parser.

use std::path::PathBuf;

use super::endpoint_f::EndpointF;
use super::sets::SetDivision;
use crate::endpoint::Endpoint;

/// Why a [`DevRegistry`](super::DevRegistry) could not load its endpoints file: it could not be
/// read, or a line is not an entry. A file that fails to load changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `OBJECT ENDPOINT [-s SET] [inactive]`.
    #[error("{origin}:{line}: {message}")]
    Parse {
        /// The file, or `<text>` for text given in code.
        origin: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// [`reload`](super::DevRegistry::reload) was called, but no file was ever loaded.
    #[error("no endpoints file was loaded")]
    NoFile,
}

/// One line of an endpoints file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileEntry {
    pub(super) object: String,
    pub(super) endpoint: EndpointF,
    pub(super) active: bool,
}

/// Parses an endpoints file (see [`DevRegistry`](super::DevRegistry#the-endpoints-file)):
/// every entry, or the first line that is not one.
pub(super) fn parse(text: &str, origin: &str) -> Result<Vec<FileEntry>, LoadError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let entry = parse_line(content).map_err(|message| LoadError::Parse {
            origin: origin.to_string(),
            line: index + 1,
            message,
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

fn parse_line(line: &str) -> Result<FileEntry, String> {
    // `OBJECT ENDPOINT...` or `OBJECT@ENDPOINT...`
    let (object, rest) = match line.split_once(char::is_whitespace) {
        Some((first, rest)) if !first.contains('@') => (first, rest),
        _ => line
            .split_once('@')
            .ok_or("expected `OBJECT ENDPOINT`, e.g. `App.Server.Obj tcp -h 127.0.0.1 -p 18015`")?,
    };
    let object = object.trim();
    if object.is_empty() || object.contains(char::is_whitespace) {
        return Err(format!("`{object}` is not an object name"));
    }
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    let active = match words.last() {
        Some(&"inactive") => {
            words.pop();
            false
        }
        _ => true,
    };
    let mut set_id = String::new();
    if let Some(at) = words.iter().position(|&word| word == "-s") {
        let set = words
            .get(at + 1)
            .ok_or("`-s` needs a set, `name.area.group`")?;
        set.parse::<SetDivision>()
            .map_err(|error| error.to_string())?;
        set_id = set.to_string();
        words.drain(at..at + 2);
    }
    let endpoint: Endpoint = words
        .join(" ")
        .parse()
        .map_err(|error: crate::endpoint::EndpointError| error.to_string())?;
    Ok(FileEntry {
        object: object.to_string(),
        endpoint: EndpointF::from(endpoint).in_set(set_id),
        active,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_comments_sets_and_inactive_ones() {
        let text = "\
# the hello servers
TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 18015 -t 60000
TestApp.HelloServer.HelloObj tcp -h 127.0.0.1 -p 18016 -s app.sz.1   # in a set

TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18017 inactive
TestApp.PushServer.PushObj 127.0.0.1:18020
";
        let entries = parse(text, "<text>").unwrap();
        let lines: Vec<(String, String, bool)> = entries
            .iter()
            .map(|entry| {
                (
                    entry.object.clone(),
                    entry.endpoint.to_string(),
                    entry.active,
                )
            })
            .collect();
        let hello = "TestApp.HelloServer.HelloObj";
        assert_eq!(
            lines,
            [
                (
                    hello.into(),
                    "tcp -h 127.0.0.1 -p 18015 -t 60000".into(),
                    true
                ),
                (
                    hello.into(),
                    "tcp -h 127.0.0.1 -p 18016 -s app.sz.1".into(),
                    true
                ),
                (hello.into(), "tcp -h 127.0.0.1 -p 18017".into(), false),
                (
                    "TestApp.PushServer.PushObj".into(),
                    "tcp -h 127.0.0.1 -p 18020".into(),
                    true
                ),
            ]
        );
    }

    #[test]
    fn names_the_line_that_is_wrong() {
        for (text, wanted) in [
            ("A.B.C tcp -h h -p 1\nA.B.C tcp -h h\n", "<text>:2: "),
            ("A.B.C\n", "<text>:1: expected `OBJECT ENDPOINT`"),
            ("A.B.C udp -h h -p 1", "only tcp"),
            ("A.B.C tcp -h h -p 1 -s app.sz", "invalid set division"),
            ("A.B.C tcp -h h -p 1 -s", "`-s` needs a set"),
            ("A.B.C tcp -h a -p 1:tcp -h b -p 2", "port `1:tcp`"),
        ] {
            let error = parse(text, "<text>").unwrap_err().to_string();
            assert!(error.contains(wanted), "{text:?}: {error}");
        }
    }
}
