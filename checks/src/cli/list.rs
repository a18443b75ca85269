//! `quorate list`: what can be checked, as text for people or JSON for tools (the JSON shape is
//! part of the CLI contract).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::registry::Protocol;

use super::check::default_config;
use super::style::{Colour, Style, wrap};

/// `quorate list --format json`.
#[derive(Debug, Serialize)]
pub struct ListJson {
    /// Every protocol, in registry order.
    pub protocols: Vec<ProtocolJson>,
}

/// One protocol in `quorate list --format json`.
#[derive(Debug, Serialize)]
pub struct ProtocolJson {
    /// e.g. `quorum`.
    pub name: String,
    /// One sentence.
    pub summary: String,
    /// Config names, in the protocol's order.
    pub configs: Vec<String>,
    /// The config `check` uses without `--config`.
    pub default_config: String,
    /// Config name to its description.
    pub config_docs: BTreeMap<String, String>,
    /// Config name to its effective parameters (`key=value`), for configs that resolve.
    pub config_parameters: BTreeMap<String, Vec<String>>,
    /// Parameters settable with `--set`.
    pub params: Vec<ParamJson>,
    /// Every property.
    pub properties: Vec<PropertyJson>,
    /// Every mutant.
    pub mutants: Vec<MutantJson>,
}

/// A `--set` parameter.
#[derive(Debug, Serialize)]
pub struct ParamJson {
    /// e.g. `write_quorum`.
    pub key: String,
    /// Meaning, unit and range.
    pub doc: String,
}

/// A property.
#[derive(Debug, Serialize)]
pub struct PropertyJson {
    /// e.g. `a1_acked_readable`.
    pub name: String,
    /// e.g. `A1`.
    pub spec_id: String,
    /// `always`, `sometimes` or `eventually`.
    pub kind: String,
    /// One sentence.
    pub doc: String,
}

/// A mutant.
#[derive(Debug, Serialize)]
pub struct MutantJson {
    /// e.g. `w3r3`.
    pub name: String,
    /// e.g. `Ma1`.
    pub spec_id: String,
    /// The property that must catch it.
    pub caught_by: String,
    /// What the bug is.
    pub doc: String,
}

/// The JSON document of `quorate list --format json`.
pub fn list_json(protocols: &[&dyn Protocol]) -> ListJson {
    ListJson {
        protocols: protocols.iter().map(|p| protocol_json(*p)).collect(),
    }
}

fn protocol_json(p: &dyn Protocol) -> ProtocolJson {
    let configs = p.configs();
    ProtocolJson {
        name: p.name().to_string(),
        summary: p.summary().to_string(),
        configs: configs.iter().map(|c| c.name.to_string()).collect(),
        default_config: default_config(p),
        config_docs: configs
            .iter()
            .map(|c| (c.name.to_string(), c.doc.to_string()))
            .collect(),
        // A config that does not resolve is still listed; it just has no parameters to show.
        config_parameters: configs
            .iter()
            .filter_map(|c| Some((c.name.to_string(), p.resolve(c.name, &[], None).ok()?)))
            .collect(),
        params: p
            .params()
            .into_iter()
            .map(|x| ParamJson {
                key: x.key.into(),
                doc: x.doc.into(),
            })
            .collect(),
        properties: p
            .properties()
            .into_iter()
            .map(|x| PropertyJson {
                name: x.name.into(),
                spec_id: x.spec_id.into(),
                kind: x.kind.into(),
                doc: x.doc.into(),
            })
            .collect(),
        mutants: p
            .mutants()
            .into_iter()
            .map(|x| MutantJson {
                name: x.name.into(),
                spec_id: x.spec_id.into(),
                caught_by: x.caught_by.into(),
                doc: x.doc.into(),
            })
            .collect(),
    }
}

/// The text of `quorate list`.
pub fn list_text(protocols: &[&dyn Protocol], style: Style) -> String {
    let doc = list_json(protocols);
    let mut out = String::new();
    for (i, p) in doc.protocols.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let heading = wrap(&format!("{}: {}", p.name, p.summary), "", "  ");
        out.push_str(&heading.replacen(&p.name, &style.paint(Colour::Bold, &p.name), 1));
        let section = |out: &mut String, title: &str| {
            out.push_str(&style.paint(Colour::Bold, &format!("  {title}")));
            out.push('\n');
        };

        section(
            &mut out,
            &format!("configs (--config NAME; default is '{}')", p.default_config),
        );
        let w = p.configs.iter().map(|c| c.len()).max().unwrap_or(0);
        for c in &p.configs {
            let first = format!("    {c:<w$}  ");
            let doc = p.config_docs.get(c).map(String::as_str).unwrap_or("");
            out.push_str(&wrap(doc, &first, &" ".repeat(first.len())));
            if let Some(params) = p.config_parameters.get(c) {
                let indent = " ".repeat(first.len());
                out.push_str(&wrap(&params.join(" "), &indent, &indent));
            }
        }
        none_if_empty(&mut out, p.configs.is_empty());

        section(&mut out, "parameters (--set KEY=VALUE)");
        let w = p.params.iter().map(|x| x.key.len()).max().unwrap_or(0);
        for x in &p.params {
            let first = format!("    {:<w$}  ", x.key);
            out.push_str(&wrap(&x.doc, &first, &" ".repeat(first.len())));
        }
        none_if_empty(&mut out, p.params.is_empty());

        section(&mut out, "properties (spec ID, kind, name)");
        let sw = p
            .properties
            .iter()
            .map(|x| x.spec_id.len())
            .max()
            .unwrap_or(0);
        let kw = p.properties.iter().map(|x| x.kind.len()).max().unwrap_or(0);
        for x in &p.properties {
            out.push_str(&format!(
                "    {:<sw$}  {:<kw$}  {}\n",
                x.spec_id, x.kind, x.name
            ));
            out.push_str(&wrap(&x.doc, "        ", "        "));
        }
        none_if_empty(&mut out, p.properties.is_empty());

        section(&mut out, "mutants (--mutant NAME)");
        let nw = p.mutants.iter().map(|x| x.name.len()).max().unwrap_or(0);
        let sw = p.mutants.iter().map(|x| x.spec_id.len()).max().unwrap_or(0);
        for x in &p.mutants {
            out.push_str(&format!(
                "    {:<nw$}  {:<sw$}  caught by {}\n",
                x.name, x.spec_id, x.caught_by
            ));
            out.push_str(&wrap(&x.doc, "        ", "        "));
        }
        none_if_empty(&mut out, p.mutants.is_empty());
    }
    out
}

fn none_if_empty(out: &mut String, empty: bool) {
    if empty {
        out.push_str("    (none)\n");
    }
}
