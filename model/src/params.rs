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
