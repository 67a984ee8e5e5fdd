//! The runtime's modules import each other without a cycle: neither the top-level modules
//! (`codec`, `packet`, `framing`, `protocol`, `endpoint`, `error`, `support`, `server`,
//! `client`, `registry`, `__private`) nor the files of one directory (`server/`, `client/`,
//! `codec/`, `registry/`).
//!
//! The test reads the sources under `runtime/src`; it does not compile them.
//!
//! # The rule
//!
//! Every file is a module node: `x.rs` and `x/mod.rs` are `x`, `x/y.rs` is `x::y`, `lib.rs` is
//! the crate root. A file depends on another when its code names it:
//!
//! * through a `use` declaration whose path starts with `crate::`, `super::`, `self::` or, in a
//!   file that declares `mod child;`, with `child::`;
//! * through such a path written inline in the code (`crate::support::lock(..)`,
//!   `child::Item` in the parent's code).
//!
//! A path is an edge to the longest module it names: `crate::server::push::PushFrame` to
//! `server::push`, and `crate::server::PushFrame` or `super::PushFrame` (re-exported by
//! `server/mod.rs`) to `server`, the module whose re-export it goes through. Only the crate
//! root's re-exports are followed to the module they come from (`crate::TarsStruct` is an edge
//! to `codec`), since every module is reachable from the root.
//!
//! One exception: a parent re-exporting from its own child (`mod child; pub use child::Item;`)
//! does not depend on the child for it, if the re-export is all it does with the item: the
//! parent's code (outside `use` declarations) does not name the item. Such a *pure re-export*
//! is the parent offering the child's item under its own path, so that children may import
//! from the parent (`use super::Item`, an edge child -> parent) without a cycle. A parent that
//! uses a child's item in its own code (a field's type, a function's return type, a call)
//! depends on the child: that is an edge parent -> child, which makes a cycle with any child
//! importing from the parent.
//!
//! Comments, doc comments, string and character literals, and items under `#[cfg(test)]`
//! (the `mod tests` blocks, test-only re-exports) are not looked at: tests may import anything.
//!
//! The top-level check counts each file as its top-level module (`server::session` as
//! `server`); a directory's check looks at the edges between its files only. A path that ends
//! at the crate root itself (an item `lib.rs` defines) is no edge.
//!
//! On failure, a test prints the modules that are in a cycle together (a strongly connected
//! component), and one shortest cycle among them with the line that makes each edge; with
//! `--nocapture`, every module's dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A module's path from the crate root: empty for the root.
type Module = Vec<String>;

/// Why a file depends on a module: the file, line and path that name it.
#[derive(Debug, Clone)]
struct Evidence {
    file: String,
    line: usize,
    path: String,
}

/// One `use` binding: the path it imports (from the crate root, or external) and the name it
/// binds.
#[derive(Debug, Clone)]
struct Binding {
    /// Absolute path segments for a crate path; `None` for an external one.
    path: Option<Vec<String>>,
    /// The name bound (`*` for a glob).
    name: String,
    /// Whether the declaration is `pub` (of any visibility).
    public: bool,
    line: usize,
    text: String,
}

/// One source file, parsed as far as the test needs.
struct Source {
    module: Module,
    file: String,
    /// The code without comments, literals and `#[cfg(test)]` items.
    code: String,
    /// The code outside `use` declarations.
    body: String,
    /// `mod child;` declarations.
    children: BTreeSet<String>,
    bindings: Vec<Binding>,
    /// Inline paths starting with `crate`, `super`, `self` or a child: (line, segments, text).
    inline: Vec<(usize, Vec<String>, String)>,
    /// Names of the items the file defines.
    items: BTreeSet<String>,
}

fn runtime_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// `x.rs`, `x/mod.rs` -> `x`; `x/y.rs` -> `x::y`; `lib.rs` -> the root.
fn module_of(root: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(root).unwrap();
    let mut segments: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = segments.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && !(segments.is_empty() && stem == "lib") {
        segments.push(stem.to_string());
    }
    segments
}

/// The code with comments and string and character literals blanked out (newlines kept, so
/// that line numbers stay right).
fn strip_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // a raw string: r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            out.extend(chars[i..j.min(chars.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // an escaped character literal
            out.push(' ');
            i += 1;
            while i < chars.len() && !(chars[i] == '\'' && chars[i - 1] != '\\') {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && is_ident_char(chars[i - 1])
}

/// The index just past the item starting at `start`: its `;` or its closing brace, whichever
/// ends it at nesting depth 0.
fn item_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0i32;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth -= 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            ';' if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// The index just past the bracket that closes the one at `open`.
fn group_end(chars: &[char], open: usize) -> usize {
    let mut depth = 0i32;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return i + 1;
        }
    }
    chars.len()
}

/// Blanks out every item under `#[cfg(test)]`.
fn strip_test_items(code: &str) -> String {
    let attribute: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut chars: Vec<char> = code.chars().collect();
    let mut start = 0;
    while start + attribute.len() <= chars.len() {
        if chars[start..start + attribute.len()] != attribute[..] {
            start += 1;
            continue;
        }
        // skip the attribute (and any that follow it) to the item itself
        let mut item = start + attribute.len();
        loop {
            while item < chars.len() && chars[item].is_whitespace() {
                item += 1;
            }
            if chars.get(item) != Some(&'#') {
                break;
            }
            item = group_end(&chars, item + 1);
        }
        let end = item_end(&chars, item);
        for c in &mut chars[start..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        start = end;
    }
    chars.into_iter().collect()
}

fn line_of(code: &str, byte: usize) -> usize {
    code[..byte].matches('\n').count() + 1
}

/// The byte ranges of the `use` declarations, each with whether it is `pub`.
fn use_declarations(code: &str) -> Vec<(usize, usize, bool)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = code[from..].find("use") {
        let start = from + offset;
        let end = start + 3;
        from = end;
        let before = code[..start].chars().next_back();
        let after = code[end..].chars().next();
        if before.is_some_and(is_ident_char) || !after.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(semicolon) = code[start..].find(';') else {
            continue;
        };
        // `pub`, `pub(crate)`, `pub(super)` just before
        let prefix = code[..start].trim_end();
        let prefix = match prefix.strip_suffix(')') {
            Some(rest) => rest
                .rfind('(')
                .map_or(prefix, |open| rest[..open].trim_end()),
            None => prefix,
        };
        let public = prefix.ends_with("pub")
            && !prefix[..prefix.len() - 3]
                .chars()
                .next_back()
                .is_some_and(is_ident_char);
        found.push((start, start + semicolon + 1, public));
        from = start + semicolon + 1;
    }
    found
}

/// Splits a `use` tree into the paths it imports, each with the name it binds.
fn use_tree(tree: &str, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let mut path = prefix.to_vec();
        path.extend(segments(&tree[..open]));
        let inner = &tree[open + 1..tree.rfind('}').unwrap()];
        for part in split_top_level(inner) {
            if part.trim() == "self" {
                let name = path.last().cloned().unwrap_or_default();
                out.push((path.clone(), name));
            } else if !part.trim().is_empty() {
                use_tree(part, &path, out);
            }
        }
        return;
    }
    let (path_text, alias) = match tree.split_once(" as ") {
        Some((path, alias)) => (path, Some(alias.trim().to_string())),
        None => (tree, None),
    };
    let mut path = prefix.to_vec();
    path.extend(segments(path_text));
    if path.last().is_some_and(|last| last == "self") {
        path.pop();
    }
    let name = alias.unwrap_or_else(|| path.last().cloned().unwrap_or_default());
    out.push((path, name));
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|segment| segment.trim().to_string())
        .filter(|segment| !segment.is_empty())
        .collect()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The absolute path of `path` as written in `module` (whose file declares `children`), or
/// `None` for a path outside the crate.
fn absolute(module: &Module, children: &BTreeSet<String>, path: &[String]) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut base = match first.as_str() {
        "crate" | "$crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module.clone(),
        name if children.contains(name) => {
            let mut base = module.clone();
            base.push(name.to_string());
            return Some(base.into_iter().chain(path[1..].iter().cloned()).collect());
        }
        _ => return None,
    };
    let mut rest = &path[1..];
    if first == "super" {
        base.pop();
        while rest.first().is_some_and(|segment| segment == "super") {
            base.pop();
            rest = &rest[1..];
        }
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The inline paths of `body` that start with `crate`, `super`, `self` or a child's name.
fn inline_paths(body: &str, children: &BTreeSet<String>) -> Vec<(usize, Vec<String>, String)> {
    let mut found = Vec::new();
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (byte, c) = chars[i];
        let starts_ident = (is_ident_char(c) || c == '$')
            && (i == 0 || !(is_ident_char(chars[i - 1].1) || chars[i - 1].1 == ':'));
        if !starts_ident {
            i += 1;
            continue;
        }
        // read `ident(::ident)*`
        let mut j = i;
        let mut parts = Vec::new();
        loop {
            let start = j;
            if chars.get(j).is_some_and(|&(_, c)| c == '$') {
                j += 1;
            }
            while chars.get(j).is_some_and(|&(_, c)| is_ident_char(c)) {
                j += 1;
            }
            if j == start {
                break;
            }
            parts.push(chars[start..j].iter().map(|&(_, c)| c).collect::<String>());
            let is_sep = chars.get(j).is_some_and(|&(_, c)| c == ':')
                && chars.get(j + 1).is_some_and(|&(_, c)| c == ':');
            let next_ident = chars
                .get(j + 2)
                .is_some_and(|&(_, c)| is_ident_char(c) || c == '$');
            if is_sep && next_ident {
                j += 2;
            } else {
                break;
            }
        }
        let first = parts[0].as_str();
        let relevant =
            matches!(first, "crate" | "$crate" | "super" | "self") || children.contains(first);
        if parts.len() > 1 && relevant {
            let text = parts.join("::");
            found.push((line_of(body, byte), parts, text));
        }
        i = j.max(i + 1);
    }
    found
}

/// The names of the items a file defines (types, traits, functions, constants, modules).
fn defined_items(code: &str) -> BTreeSet<String> {
    let mut items = BTreeSet::new();
    let words: Vec<&str> = code
        .split(|c: char| !is_ident_char(c))
        .filter(|word| !word.is_empty())
        .collect();
    for pair in words.windows(2) {
        if matches!(
            pair[0],
            "struct" | "enum" | "trait" | "type" | "fn" | "const" | "static" | "mod" | "union"
        ) {
            items.insert(pair[1].to_string());
        }
    }
    items
}

fn parse(root: &Path, file: &Path) -> Source {
    let text = std::fs::read_to_string(file).unwrap();
    let module = module_of(root, file);
    let code = strip_test_items(&strip_comments_and_literals(&text));
    let mut children = BTreeSet::new();
    let words: Vec<&str> = code.split_whitespace().collect();
    for pair in words.windows(2) {
        if pair[0] == "mod" {
            if let Some(name) = pair[1].strip_suffix(';') {
                children.insert(name.to_string());
            }
        }
    }
    let declarations = use_declarations(&code);
    let mut body = code.clone();
    let mut bindings = Vec::new();
    for &(start, end, public) in &declarations {
        let declaration = &code[start + 3..end - 1];
        let mut imported = Vec::new();
        use_tree(declaration, &[], &mut imported);
        for (path, name) in imported {
            bindings.push(Binding {
                path: absolute(&module, &children, &path),
                name,
                public,
                line: line_of(&code, start),
                text: path.join("::"),
            });
        }
        body.replace_range(start..end, &" ".repeat(end - start));
    }
    let inline = inline_paths(&body, &children);
    let items = defined_items(&code);
    Source {
        module,
        file: file.strip_prefix(root).unwrap().display().to_string(),
        code,
        body,
        children,
        bindings,
        inline,
        items,
    }
}

/// The crate's modules, and who depends on whom (with why).
struct Graph {
    sources: BTreeMap<Module, Source>,
    edges: BTreeMap<Module, BTreeMap<Module, Evidence>>,
}

impl Graph {
    fn load() -> Self {
        let root = runtime_src();
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        let sources: BTreeMap<Module, Source> = files
            .iter()
            .map(|file| {
                let source = parse(&root, file);
                (source.module.clone(), source)
            })
            .collect();
        let mut graph = Self {
            sources,
            edges: BTreeMap::new(),
        };
        graph.collect_edges();
        graph
    }

    /// The module a path names: the longest module prefix, following the crate root's
    /// re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Option<Module> {
        let known = (0..=path.len())
            .rev()
            .find(|&len| self.sources.contains_key(&path[..len]))?;
        let module = path[..known].to_vec();
        if !module.is_empty() || known == path.len() || depth > 8 {
            return Some(module);
        }
        // through the root: follow its re-export of `path[known]` to where it comes from
        let root = &self.sources[&module];
        let name = &path[known];
        root.bindings
            .iter()
            .filter(|binding| &binding.name == name)
            .find_map(|binding| {
                let mut target = binding.path.clone()?;
                target.extend(path[known + 1..].iter().cloned());
                self.resolve(&target, depth + 1)
            })
    }

    fn collect_edges(&mut self) {
        let mut edges: BTreeMap<Module, BTreeMap<Module, Evidence>> = BTreeMap::new();
        for source in self.sources.values() {
            let mut add = |target: Module, line: usize, path: &str| {
                if target.is_empty() || target == source.module {
                    return;
                }
                edges
                    .entry(source.module.clone())
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| Evidence {
                        file: source.file.clone(),
                        line,
                        path: path.to_string(),
                    });
            };
            for binding in &source.bindings {
                let Some(path) = &binding.path else { continue };
                let Some(target) = self.resolve(path, 0) else {
                    continue;
                };
                if binding.public && self.is_pure_reexport(source, &target, &binding.name) {
                    continue;
                }
                add(target, binding.line, &binding.text);
            }
            for (line, path, text) in &source.inline {
                let Some(path) = absolute(&source.module, &source.children, path) else {
                    continue;
                };
                if let Some(target) = self.resolve(&path, 0) {
                    add(target, *line, text);
                }
            }
        }
        self.edges = edges;
    }

    /// Whether `source` re-exports `name` from its descendant `target` and does nothing else
    /// with it in its code.
    fn is_pure_reexport(&self, source: &Source, target: &Module, name: &str) -> bool {
        let descendant = target.len() > source.module.len() && target.starts_with(&source.module);
        if !descendant {
            return false;
        }
        let used = |name: &str| {
            source
                .body
                .split(|c: char| !is_ident_char(c))
                .any(|word| word == name)
        };
        if name == "*" {
            // a glob: pure if the parent's code names none of the child's items
            return !self.sources[target].items.iter().any(|item| used(item));
        }
        !used(name)
    }

    /// The edges between the groups `group` puts modules in (`None`: not in the graph).
    fn grouped(
        &self,
        group: impl Fn(&Module) -> Option<String>,
    ) -> BTreeMap<String, BTreeMap<String, Evidence>> {
        let mut grouped: BTreeMap<String, BTreeMap<String, Evidence>> = self
            .sources
            .keys()
            .filter_map(&group)
            .map(|name| (name, BTreeMap::new()))
            .collect();
        for (from, targets) in &self.edges {
            let Some(from_group) = group(from) else {
                continue;
            };
            for (to, evidence) in targets {
                let Some(to_group) = group(to) else { continue };
                if to_group != from_group {
                    grouped
                        .get_mut(&from_group)
                        .unwrap()
                        .entry(to_group)
                        .or_insert_with(|| evidence.clone());
                }
            }
        }
        grouped
    }
}

/// The modules that import each other in a cycle, one set per strongly connected component,
/// each with its shortest cycle.
fn cycles(
    edges: &BTreeMap<String, BTreeMap<String, Evidence>>,
) -> Vec<(BTreeSet<String>, Vec<String>)> {
    let nodes: BTreeSet<&String> = edges
        .keys()
        .chain(edges.values().flat_map(|targets| targets.keys()))
        .collect();
    let reaches = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in edges
                .get(&node)
                .into_iter()
                .flat_map(|targets| targets.keys())
            {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|&node| (node, reaches(node))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for &node in &nodes {
        if done.contains(node) || !reach[node].contains(node) {
            continue;
        }
        let component: BTreeSet<String> = nodes
            .iter()
            .filter(|&&other| reach[node].contains(other) && reach[other].contains(node))
            .map(|&other| other.clone())
            .collect();
        done.extend(component.iter().cloned());
        let cycle = shortest_cycle(node, edges, &component);
        found.push((component, cycle));
    }
    found
}

/// The shortest cycle through `start` within `component` (breadth first).
fn shortest_cycle(
    start: &String,
    edges: &BTreeMap<String, BTreeMap<String, Evidence>>,
    component: &BTreeSet<String>,
) -> Vec<String> {
    let mut previous: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(node) = queue.pop_front() {
        for next in edges
            .get(&node)
            .into_iter()
            .flat_map(|targets| targets.keys())
        {
            if !component.contains(next) {
                continue;
            }
            if next == start {
                let mut cycle = vec![node.clone()];
                while let Some(before) = previous.get(cycle.last().unwrap()) {
                    cycle.push(before.clone());
                }
                cycle.reverse();
                return cycle;
            }
            if !previous.contains_key(next) {
                previous.insert(next.clone(), node.clone());
                queue.push_back(next.clone());
            }
        }
    }
    unreachable!("{start} is on a cycle")
}

/// Asserts that `edges` has no cycle, printing each one with the lines that make its edges.
fn assert_acyclic(what: &str, edges: &BTreeMap<String, BTreeMap<String, Evidence>>) {
    let found = cycles(edges);
    let mut report = String::new();
    for (component, cycle) in &found {
        let members: Vec<&str> = component.iter().map(String::as_str).collect();
        let _ = writeln!(report, "in a cycle together: {}", members.join(", "));
        let _ = writeln!(report, "e.g. {} -> {}", cycle.join(" -> "), cycle[0]);
        for (i, from) in cycle.iter().enumerate() {
            let to = &cycle[(i + 1) % cycle.len()];
            let evidence = &edges[from][to];
            let _ = writeln!(
                report,
                "  {from} -> {to}: {}:{} `{}`",
                evidence.file, evidence.line, evidence.path
            );
        }
    }
    println!("{what}: {} modules", edges.len());
    for (from, targets) in edges {
        let targets: Vec<&str> = targets.keys().map(String::as_str).collect();
        println!("  {from} -> {}", targets.join(", "));
    }
    assert!(found.is_empty(), "{what} import each other:\n{report}");
}

/// The group of `module` within directory `dir`: the file's module path, or `None` outside.
fn in_directory(dir: &'static str) -> impl Fn(&Module) -> Option<String> {
    move |module| (module.first()? == dir).then(|| module.join("::"))
}

#[test]
fn the_top_level_modules_do_not_import_each_other_in_a_cycle() {
    let graph = Graph::load();
    let edges = graph.grouped(|module| module.first().cloned());
    let expected = [
        "codec",
        "packet",
        "framing",
        "protocol",
        "endpoint",
        "error",
        "support",
        "server",
        "client",
        "registry",
        "__private",
    ];
    for module in expected {
        assert!(
            edges.contains_key(module),
            "no module `{module}` found: {:?}",
            edges.keys()
        );
    }
    assert_acyclic("the top-level modules", &edges);
}

/// Asserts that the files of directory `dir` import each other without a cycle.
fn assert_directory_acyclic(dir: &'static str) {
    let edges = Graph::load().grouped(in_directory(dir));
    assert_acyclic(&format!("the files of {dir}/"), &edges);
}

#[test]
fn the_files_of_server_do_not_import_each_other_in_a_cycle() {
    assert_directory_acyclic("server");
}

#[test]
fn the_files_of_client_do_not_import_each_other_in_a_cycle() {
    assert_directory_acyclic("client");
}

#[test]
fn the_files_of_codec_do_not_import_each_other_in_a_cycle() {
    assert_directory_acyclic("codec");
}

#[test]
fn the_files_of_registry_do_not_import_each_other_in_a_cycle() {
    assert_directory_acyclic("registry");
}

/// The parser finds what it must: a parent's use of a child in its code is an edge, a pure
/// re-export is not, a child's `super::Item` is an edge to the parent, and the root's
/// re-exports lead to the module they come from.
#[test]
fn the_rule_sees_what_it_should() {
    let graph = Graph::load();
    let module = |path: &str| -> Module { segments(path) };
    let depends = |from: &str, to: &str| {
        graph
            .edges
            .get(&module(from))
            .is_some_and(|targets| targets.contains_key(&module(to)))
    };
    // `use crate::support::log_join` in a server file
    assert!(depends("server::session", "support"));
    // `crate::TarsStruct` (a root re-export) leads to codec
    assert!(depends("packet", "codec"));
    // `use super::{DecodeError, ..}` in codec/reader.rs: an edge to codec's mod.rs
    assert!(depends("codec::reader", "codec"));
    // codec/mod.rs only re-exports from its children: no edge down
    assert!(!depends("codec", "codec::reader"));
    // nothing is an edge from a comment or a test module
    let parsed = parse(&runtime_src(), &runtime_src().join("server/subscribers.rs"));
    assert!(!parsed.code.contains("mod tests"));
    assert!(!parsed.code.contains("//"));
}

/// The parsing on made-up code: comments, literals and test items are blanked out, `use`
/// trees and inline paths are found.
#[test]
fn the_parser_reads_what_it_should() {
    let code = strip_test_items(&strip_comments_and_literals(
        "// use crate::a;\n\
         /* crate::b /* nested */ crate::c */\n\
         const S: &str = \"crate::d\"; const R: &str = r#\"crate::e\"#; const C: char = '\\'';\n\
         #[cfg(test)]\n#[allow(unused)]\nuse crate::f;\n\
         #[cfg(test)]\nmod tests { use crate::g; }\n\
         pub(crate) use crate::h::{self, i::{J, K as L}};\n\
         fn keep<'a>(x: &'a str) { crate::m::n(x); child::o(); }\n",
    ));
    for gone in [
        "crate::a", "crate::b", "crate::c", "crate::d", "crate::e", "crate::f", "crate::g",
    ] {
        assert!(!code.contains(gone), "{gone} left in:\n{code}");
    }
    assert_eq!(code.lines().count(), 10, "lines are kept");
    let declarations = use_declarations(&code);
    assert_eq!(declarations.len(), 1);
    let (start, end, public) = declarations[0];
    assert!(public);
    let mut imported = Vec::new();
    use_tree(&code[start + 3..end - 1], &[], &mut imported);
    let imported: Vec<(String, String)> = imported
        .into_iter()
        .map(|(path, name)| (path.join("::"), name))
        .collect();
    let expected = [
        ("crate::h", "h"),
        ("crate::h::i::J", "J"),
        ("crate::h::i::K", "L"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(path, name)| (path.to_string(), name.to_string()))
        .collect();
    assert_eq!(imported, expected);
    let children = BTreeSet::from(["child".to_string()]);
    let mut body = code.clone();
    body.replace_range(start..end, &" ".repeat(end - start));
    let inline: Vec<String> = inline_paths(&body, &children)
        .into_iter()
        .map(|(line, _, text)| format!("{line}: {text}"))
        .collect();
    assert_eq!(inline, ["10: crate::m::n", "10: child::o"]);
}
