//! Every protocol's spec (`specs/<protocol>.md`) and its code agree on IDs: each property row
//! names the property and kind the code has, each mutant row names the mutant and the property
//! that catches it, the spec's tables hold no ID the code lacks, and every `always` property
//! is named by some mutant. Checked through the registry, so a new protocol is covered as soon
//! as it is listed.

use std::collections::HashSet;

use quorate::registry::protocols;

/// Rows `| first | second | third | ... |` of the spec's Markdown tables.
fn spec_rows(spec: &str) -> Vec<(String, String, String)> {
    spec.lines()
        .filter_map(|l| {
            let cells: Vec<_> = l
                .trim()
                .strip_prefix('|')?
                .split('|')
                .map(|c| c.trim().trim_matches('`'))
                .collect();
            (cells.len() >= 3).then(|| {
                (
                    cells[0].to_string(),
                    cells[1].to_string(),
                    cells[2].to_string(),
                )
            })
        })
        .collect()
}

/// Whether a first cell looks like one of the protocol's IDs: a capital the code's IDs start
/// with, an optional lower-case letter (`Mb1`), then a digit (`B3`, `F2a`, `C5.s2`).
fn looks_like_id(cell: &str, initials: &HashSet<char>) -> bool {
    let mut chars = cell.chars().peekable();
    let Some(first) = chars.next() else {
        return false;
    };
    if !initials.contains(&first) || cell.len() > 7 {
        return false;
    }
    if chars.peek().is_some_and(|c| c.is_ascii_lowercase()) {
        chars.next();
    }
    chars.next().is_some_and(|c| c.is_ascii_digit())
}

#[test]
fn every_spec_matches_its_code() {
    for p in protocols() {
        let path = format!("{}/../specs/{}.md", env!("CARGO_MANIFEST_DIR"), p.name());
        let spec = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path} exists"));
        let rows = spec_rows(&spec);
        let find = |id: &str| rows.iter().find(|(i, _, _)| i == id);
        let props = p.properties();
        let mutants = p.mutants();
        for prop in &props {
            let row = find(prop.spec_id)
                .unwrap_or_else(|| panic!("{path} lacks property {}", prop.spec_id));
            assert_eq!(
                row.1, prop.name,
                "{path}: row {} names another property",
                prop.spec_id
            );
            assert_eq!(
                row.2, prop.kind,
                "{path}: row {} has another kind",
                prop.spec_id
            );
        }
        for m in &mutants {
            let row =
                find(m.spec_id).unwrap_or_else(|| panic!("{path} lacks mutant {}", m.spec_id));
            assert_eq!(row.1, m.name, "{path}: row {}", m.spec_id);
            assert_eq!(
                row.2, m.caught_by,
                "{path}: row {} is caught by another property",
                m.spec_id
            );
        }
        let known: HashSet<&str> = props
            .iter()
            .map(|p| p.spec_id)
            .chain(mutants.iter().map(|m| m.spec_id))
            .collect();
        let initials: HashSet<char> = known.iter().filter_map(|id| id.chars().next()).collect();
        for (id, _, _) in &rows {
            if looks_like_id(id, &initials) {
                assert!(
                    known.contains(id.as_str()),
                    "{path} has {id}, the code does not"
                );
            }
        }
    }
}

#[test]
fn every_always_property_is_named_by_a_mutant() {
    for p in protocols() {
        let named: HashSet<&str> = p.mutants().iter().map(|m| m.caught_by).collect();
        for prop in p.properties().iter().filter(|q| q.kind == "always") {
            assert!(
                named.contains(prop.name),
                "{}: no mutant names {}",
                p.name(),
                prop.name
            );
        }
    }
}
