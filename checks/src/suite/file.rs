//! Reading the suite file: TOML into [`Entry`]s, strictly. A typo'd key would otherwise silently
//! drop a pin or an expectation, so every unknown key, wrong type or inconsistent entry is a
//! one-line error naming the file, the entry and the key.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::registry::UsageError;

/// What an entry expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The check exits 0: complete, every property holds or is witnessed.
    Pass,
    /// The named property is violated, with a counterexample.
    Violation,
}

impl Expect {
    /// `pass` or `violation`, as in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Pass => "pass",
            Expect::Violation => "violation",
        }
    }
}

/// Which run of the suite an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Run by `quorate suite` (what CI runs): the default.
    Ci,
    /// Run only by `quorate suite --full`: the largest state spaces, whose features smaller CI
    /// entries also reach.
    Full,
}

/// One `[[check]]` of the suite file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based position in the file, for messages.
    pub index: usize,
    /// Protocol name.
    pub protocol: String,
    /// Config name.
    pub config: String,
    /// Planted mutant, if any.
    pub mutant: Option<String>,
    /// Expected outcome.
    pub expect: Expect,
    /// With [`Expect::Violation`]: the property that must be violated.
    pub property: Option<String>,
    /// Pin: the exact number of unique states.
    pub states_unique: Option<u64>,
    /// Pin: the length of the shortest counterexample of `property`.
    pub trace_len: Option<u64>,
    /// `--set` overrides, in file order.
    pub sets: Vec<(String, String)>,
    /// Which run of the suite checks it.
    pub tier: Tier,
}

impl Entry {
    /// `check #3 (quorum ci w3r3)`: how messages name the entry.
    pub fn label(&self) -> String {
        format!("check #{} ({})", self.index, self.what())
    }

    /// `quorum ci w3r3`, or `quorum ci` without a mutant.
    pub fn what(&self) -> String {
        match &self.mutant {
            Some(m) => format!("{} {} {m}", self.protocol, self.config),
            None => format!("{} {}", self.protocol, self.config),
        }
    }
}

/// The keys a `[[check]]` may have.
pub const KEYS: [&str; 9] = [
    "protocol",
    "config",
    "mutant",
    "expect",
    "property",
    "states_unique",
    "trace_len",
    "set",
    "tier",
];

/// Find the suite file: `path` as given (relative to the current directory), else relative to
/// this crate's directory and to the workspace root, so `quorate suite` works from the repo
/// root, from `checks/` and under `cargo run`.
pub fn locate(path: &Path) -> Result<PathBuf, UsageError> {
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut tried = vec![path.to_path_buf()];
    let bases = if path.is_absolute() {
        Vec::new()
    } else {
        [Some(crate_dir), crate_dir.parent()]
            .into_iter()
            .flatten()
            .collect()
    };
    for base in bases {
        let candidate = base.join(path);
        if candidate.exists() {
            return Ok(candidate);
        }
        tried.push(candidate);
    }
    let tried: Vec<_> = tried.iter().map(|p| p.display().to_string()).collect();
    Err(UsageError(format!(
        "suite file not found (tried {}); pass its path: quorate suite FILE",
        tried.join(", ")
    )))
}

/// Read and parse the suite file at `path` (already located).
pub fn load(path: &Path) -> Result<Vec<Entry>, UsageError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{name}: cannot read the suite file: {e}")))?;
    parse(&text, &name)
}

/// Parse suite TOML; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Vec<Entry>, UsageError> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" at line {line} column {column}")
            })
            .unwrap_or_default();
        UsageError(format!(
            "{file}: invalid TOML{at}: {}",
            crate::cli::one_line(e.message())
        ))
    })?;

    let err = |msg: String| UsageError(format!("{file}: {msg}"));
    if let Some(key) = table.keys().find(|k| *k != "check") {
        return Err(err(format!(
            "unknown top-level key '{key}'; the file holds only [[check]] entries"
        )));
    }
    let checks = match table.get("check") {
        None => return Err(err("no [[check]] entries".to_string())),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(err(
                "'check' must be an array of tables: [[check]]".to_string()
            ));
        }
    };
    let mut entries = Vec::with_capacity(checks.len());
    for (i, item) in checks.iter().enumerate() {
        let index = i + 1;
        let Value::Table(t) = item else {
            return Err(err(format!(
                "check #{index}: must be a table, written [[check]]"
            )));
        };
        entries.push(entry(t, index).map_err(err)?);
    }
    if entries.is_empty() {
        return Err(err("no [[check]] entries".to_string()));
    }
    Ok(entries)
}

fn entry(t: &Table, index: usize) -> Result<Entry, String> {
    // Name the entry by whatever identifies it, even before it is known to be valid.
    let id = ["protocol", "config", "mutant"]
        .iter()
        .filter_map(|k| t.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let label = if id.is_empty() {
        format!("check #{index}")
    } else {
        format!("check #{index} ({id})")
    };
    let fail = |msg: String| format!("{label}: {msg}");

    if let Some(key) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(fail(format!(
            "unknown key '{key}'; known keys: {}",
            KEYS.join(", ")
        )));
    }
    let string = |key: &str| -> Result<Option<String>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(fail(format!("'{key}' must be a non-empty string"))),
        }
    };
    let count = |key: &str| -> Result<Option<u64>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Integer(n)) if *n >= 0 => Ok(Some(*n as u64)),
            Some(_) => Err(fail(format!("'{key}' must be a non-negative integer"))),
        }
    };
    let required = |key: &str| -> Result<String, String> {
        string(key)?.ok_or_else(|| fail(format!("missing '{key}'")))
    };

    let protocol = required("protocol")?;
    let config = required("config")?;
    let mutant = string("mutant")?;
    let expect = match required("expect")?.as_str() {
        "pass" => Expect::Pass,
        "violation" => Expect::Violation,
        other => {
            return Err(fail(format!(
                "expect = \"{other}\" is neither \"pass\" nor \"violation\""
            )));
        }
    };
    let property = string("property")?;
    let tier = match string("tier")?.as_deref() {
        None | Some("ci") => Tier::Ci,
        Some("full") => Tier::Full,
        Some(other) => {
            return Err(fail(format!(
                "tier = \"{other}\" is neither \"ci\" (the default) nor \"full\""
            )));
        }
    };
    let states_unique = count("states_unique")?;
    let trace_len = count("trace_len")?;
    match expect {
        Expect::Violation if property.is_none() => {
            return Err(fail(
                "expect = \"violation\" needs property = \"<the property that must be violated>\""
                    .to_string(),
            ));
        }
        Expect::Pass if property.is_some() || trace_len.is_some() => {
            return Err(fail(
                "'property' and 'trace_len' belong to expect = \"violation\" entries".to_string(),
            ));
        }
        _ => {}
    }

    let sets = match t.get("set") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| crate::cli::parse_set(s).ok())
                    .ok_or_else(|| {
                        fail(format!(
                            "set entry {v} is not a \"KEY=VALUE\" string, e.g. \"write_quorum=3\""
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(fail(
                "'set' must be an array of \"KEY=VALUE\" strings".to_string(),
            ));
        }
    };

    Ok(Entry {
        index,
        protocol,
        config,
        mutant,
        expect,
        property,
        states_unique,
        trace_len,
        sets,
        tier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[check]]
protocol = "quorum"
config = "ci"
expect = "pass"
states_unique = 12

[[check]]
protocol = "quorum"
config = "ci"
mutant = "w3r3"
expect = "violation"
property = "a1_acked_readable"
trace_len = 8
set = ["write_quorum=3", "read_quorum = 3"]
"#;

    fn error(text: &str) -> String {
        let e = parse(text, "suite.toml").unwrap_err().0;
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    #[test]
    fn parses_entries() {
        let entries = parse(GOOD, "suite.toml").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].expect, Expect::Pass);
        assert_eq!(entries[0].states_unique, Some(12));
        assert_eq!(entries[1].mutant.as_deref(), Some("w3r3"));
        assert_eq!(entries[1].trace_len, Some(8));
        assert_eq!(
            entries[1].sets,
            vec![
                ("write_quorum".to_string(), "3".to_string()),
                ("read_quorum".to_string(), "3".to_string())
            ]
        );
        assert_eq!(entries[1].label(), "check #2 (quorum ci w3r3)");
        assert_eq!(entries[0].tier, Tier::Ci);
        let full = parse(
            &GOOD.replacen("expect = \"pass\"", "expect = \"pass\"\ntier = \"full\"", 1),
            "s",
        )
        .unwrap();
        assert_eq!(full[0].tier, Tier::Full);
        assert_eq!(full[1].tier, Tier::Ci);
    }

    #[test]
    fn unknown_key_names_file_entry_and_key() {
        let e = error(&GOOD.replace("trace_len = 8", "trace_lenght = 8"));
        assert!(e.starts_with("suite.toml: check #2 (quorum ci w3r3): unknown key 'trace_lenght'"));
    }

    #[test]
    fn other_errors() {
        assert!(error("x = 1").contains("unknown top-level key 'x'"));
        assert!(error("").contains("no [[check]] entries"));
        assert!(error("[[check]\n").contains("invalid TOML at line 1"));
        assert!(error(&GOOD.replace("expect = \"pass\"", "expect = \"ok\"")).contains("neither"));
        assert!(
            error(&GOOD.replace("property = \"a1_acked_readable\"", "")).contains("needs property")
        );
        assert!(
            error(&GOOD.replace("states_unique = 12", "states_unique = \"12\""))
                .contains("non-negative integer")
        );
        assert!(
            error(&GOOD.replace("\"write_quorum=3\"", "\"write_quorum\"")).contains("KEY=VALUE")
        );
        assert!(
            error(&GOOD.replace("states_unique = 12", "tier = \"nightly\""))
                .contains("neither \"ci\" (the default) nor \"full\"")
        );
        assert!(
            error(&GOOD.replacen("config = \"ci\"\n", "", 1))
                .contains("check #1 (quorum): missing 'config'")
        );
    }
}
