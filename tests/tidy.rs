//! House rules checked by a test rather than by reviewers' memory (STYLE.md §2 rules 1, 17, 18,
//! and the workspace rules of docs/ARCHITECTURE.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

/// Programs a test may spawn without `scripts/test` installing them: part of every Debian
/// system (`sh` is essential).
const BASE_SYSTEM_PROGRAMS: [&str; 1] = ["sh"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "node_modules" || n == ".venv")
            {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's crates: (directory name, crate directory).
fn crates() -> Vec<(String, PathBuf)> {
    let mut crates: Vec<_> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    crates.sort();
    crates
}

/// Every library and binary source file, with the name the code map gives its module:
/// `<crate dir>::<module path>` (`sip::endpoint`), or the root crate's `server`, `admin`.
fn source_modules() -> Vec<(String, PathBuf)> {
    let mut modules = Vec::new();
    let mut add = |prefix: Option<&str>, src: &Path| {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        for file in files {
            let rel = file.strip_prefix(src).unwrap();
            let path = rel
                .with_extension("")
                .to_string_lossy()
                .replace('/', "::")
                .replace("::mod", "");
            let name = match (prefix, path.as_str()) {
                (Some(krate), "lib") => krate.to_owned(),
                (Some(krate), _) => format!("{krate}::{path}"),
                (None, _) => path,
            };
            modules.push((name, file));
        }
    };
    add(None, &root().join("src"));
    for (name, dir) in crates() {
        add(Some(&name), &dir.join("src"));
    }
    modules
}

/// Every Rust file of the workspace: sources, tests, benches, examples.
fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(&root().join(dir), &mut files);
    }
    for (_, dir) in crates() {
        rust_files(&dir, &mut files);
    }
    files
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc: {missing:?}"
    );
}

#[test]
fn every_crate_says_what_it_owns_and_what_it_never_depends_on() {
    let mut vague = Vec::new();
    for (name, dir) in crates() {
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        let doc: String = lib
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        if doc.len() < 120 || !doc.to_ascii_lowercase().contains("never") {
            vague.push(name);
        }
    }
    assert!(
        vague.is_empty(),
        "crates whose lib.rs doc does not say what they own and never do: {vague:?}"
    );
}

#[test]
fn no_ignored_or_should_panic_tests() {
    let this = root().join("tests/tidy.rs");
    let bad: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|f| *f != this)
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("#[ignore") || text.contains("#[should_panic")
        })
        .collect();
    assert!(bad.is_empty(), "#[ignore] or #[should_panic] in {bad:?}");
}

#[test]
fn architecture_maps_every_crate_and_module() {
    let map = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for (name, _) in crates() {
        if !map.contains(&format!("`umbox-{name}`")) {
            missing.push(format!("umbox-{name}"));
        }
    }
    for (module, _) in source_modules() {
        if module == "lib" || module == "main" || crates().iter().any(|(c, _)| *c == module) {
            continue;
        }
        if !map.contains(&format!("`{module}`")) {
            missing.push(module);
        }
    }
    assert!(
        missing.is_empty(),
        "crates and modules missing from docs/ARCHITECTURE.md's code map: {missing:?}"
    );
}

/// The code before the first `#[cfg(test)]` of a file: what ships in the server. Files that
/// exist only for tests (`tests.rs`, `*_tests.rs`, `testkit.rs`) ship nothing.
fn shipped_code(file: &Path) -> String {
    let name = file.file_name().unwrap().to_string_lossy();
    if name == "tests.rs" || name.ends_with("_tests.rs") || name == "testkit.rs" {
        return String::new();
    }
    let text = std::fs::read_to_string(file).unwrap();
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[test]
fn no_xml_is_built_with_format_outside_tests() {
    // An XML element written by hand: `format!("<m:Foo>…")` or `write!(out, "<a …>")`. XML goes
    // through `umbox_xml::Writer`, which escapes every value.
    let mut bad = Vec::new();
    for (module, file) in source_modules() {
        if module.starts_with("testkit") {
            continue;
        }
        for (n, line) in shipped_code(&file).lines().enumerate() {
            let Some(at) = ["format!(", "write!(", "writeln!("]
                .iter()
                .find_map(|m| line.find(m))
            else {
                continue;
            };
            let rest = &line[at..];
            let Some(quote) = rest.find('"') else {
                continue;
            };
            let literal = &rest[quote + 1..];
            let element = literal.starts_with('<')
                && literal[1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '?')
                && literal.contains('>');
            if element {
                bad.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(bad.is_empty(), "XML built with format!/write!: {bad:?}");
}

#[test]
fn every_program_a_test_spawns_is_installed_by_scripts_test() {
    let script = std::fs::read_to_string(root().join("scripts/test")).unwrap();
    let mut missing = Vec::new();
    for file in all_rust_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("Command::new(\"") {
            let rest = &text[at + "Command::new(\"".len()..];
            let program = &rest[..rest.find('"').unwrap()];
            let installed = script.contains(&format!(" {program}:"))
                || script.contains(&format!("\t{program}:"))
                || BASE_SYSTEM_PROGRAMS.contains(&program);
            if !installed && !missing.contains(&program.to_owned()) {
                missing.push(program.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "programs tests spawn that scripts/test does not install: {missing:?}"
    );
}

/// The workspace crates each crate depends on (normal dependencies, from its Cargo.toml).
fn internal_dependencies(crate_dir: &Path) -> Vec<String> {
    let manifest: toml::Table = std::fs::read_to_string(crate_dir.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|deps| {
            deps.keys()
                .filter_map(|name| name.strip_prefix("umbox-"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_sip_crates_know_nothing_of_the_business_side() {
    for sip in ["sip", "sip-proto"] {
        let deps = internal_dependencies(&root().join("crates").join(sip));
        let forbidden: Vec<_> = deps
            .iter()
            // umbox-net is below every protocol (sockets only), never business.
            .filter(|d| !["sip-proto", "xml", "net"].contains(&d.as_str()))
            .collect();
        assert!(
            forbidden.is_empty(),
            "umbox-{sip} depends on {forbidden:?}: the SIP crates define traits that um implements"
        );
    }
}

#[test]
fn crate_dependencies_point_inward_without_cycles() {
    let graph: Vec<(String, Vec<String>)> = crates()
        .into_iter()
        .map(|(name, dir)| {
            let deps = internal_dependencies(&dir);
            (name, deps)
        })
        .collect();
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &[(String, Vec<String>)],
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.iter().any(|d| d == node) {
            return None;
        }
        path.push(node.to_owned());
        let deps = graph
            .iter()
            .find(|(name, _)| name == node)
            .map(|(_, deps)| deps.clone())
            .unwrap_or_default();
        for dep in deps {
            if let Some(cycle) = visit(&dep, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(node.to_owned());
        None
    }
    let mut done = Vec::new();
    for (name, _) in &graph {
        let cycle = visit(name, &graph, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "dependency cycle: {cycle:?}");
    }
    // The test kit is for tests only.
    for (name, deps) in &graph {
        assert!(
            !deps.iter().any(|d| d == "testkit"),
            "umbox-{name} depends on the test kit outside its dev-dependencies"
        );
    }
}

#[test]
fn no_source_cites_notes_outside_the_repository() {
    // Protocol facts are stated where they are used, or cited by RFC / Microsoft spec.
    let this = root().join("tests/tidy.rs");
    let citing: Vec<_> = all_rust_files()
        .into_iter()
        .filter(|f| *f != this)
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .contains("PROTOCOL-NOTES")
        })
        .collect();
    assert!(
        citing.is_empty(),
        "cites a notes file not in the repository: {citing:?}"
    );
}
