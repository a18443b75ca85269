//! Parsing of `--set KEY=VALUE` values, shared by every protocol's config, so all of them
//! accept the same spellings and say the same thing when a value is wrong.

/// A whole number 0-255.
pub fn num(key: &str, value: &str) -> Result<u8, String> {
    value
        .parse::<u8>()
        .map_err(|_| format!("parameter '{key}' takes a whole number 0-255, got '{value}'"))
}

/// `true`/`on`/`yes`/`1` or `false`/`off`/`no`/`0`.
pub fn flag(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!(
            "parameter '{key}' takes true or false, got '{value}'"
        )),
    }
}

/// A named config preset and the sentence `quorate list` shows for it.
pub struct Preset {
    /// e.g. `ci`.
    pub name: &'static str,
    /// What it covers.
    pub doc: &'static str,
    /// The overrides applied to the protocol's base config, as `key=value`.
    pub sets: &'static [&'static str],
}

/// The config of preset `name` among `presets` of `protocol`: `base` with the preset's
/// overrides applied by `set`; an unknown name is an error naming the known ones.
pub fn preset<C>(
    protocol: &str,
    presets: &[Preset],
    name: &str,
    mut base: C,
    set: impl Fn(&mut C, &str, &str) -> Result<(), String>,
) -> Result<C, String> {
    let preset = presets.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<_> = presets.iter().map(|p| p.name).collect();
        format!(
            "unknown config '{name}' for protocol {protocol}; choose one of: {}",
            names.join(", ")
        )
    })?;
    for kv in preset.sets {
        let (k, v) = kv.split_once('=').expect("preset entries are key=value");
        set(&mut base, k, v).expect("presets are valid");
    }
    Ok(base)
}
