//! House rules checked by a test rather than by reviewers' memory (STYLE.md §2 rules 1, 17, 18).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "node_modules") {
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

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! doc: {missing:?}"
    );
}

#[test]
fn no_ignored_or_should_panic_tests() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    let this = root().join("tests/tidy.rs");
    let bad: Vec<_> = files
        .iter()
        .filter(|f| **f != this)
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.contains("#[ignore") || text.contains("#[should_panic")
        })
        .collect();
    assert!(bad.is_empty(), "#[ignore] or #[should_panic] in {bad:?}");
}

#[test]
fn architecture_maps_every_module() {
    let map = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut missing = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root().join("src")).unwrap();
        let module = rel
            .with_extension("")
            .to_string_lossy()
            .replace('/', "::")
            .replace("::mod", "");
        if module == "lib" || module == "main" {
            continue;
        }
        if !map.contains(&format!("`{module}`")) {
            missing.push(module);
        }
    }
    assert!(
        missing.is_empty(),
        "modules missing from docs/ARCHITECTURE.md's code map: {missing:?}"
    );
}
