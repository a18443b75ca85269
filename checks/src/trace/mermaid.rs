//! A trace as a Mermaid sequence diagram: one lifeline per actor (in order of appearance), an
//! arrow for each step that carries something from one actor to another, a self-arrow for a
//! step an actor takes alone, a note for each fault, clock tick or operator command, and a last
//! note naming how the replay ended.

use super::{Outcome, Replayed, TraceFile};

/// Mermaid's text may not hold `;` or `#` (statement separator, entity codes) or line breaks.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Mermaid `sequenceDiagram` of a replayed trace.
pub fn render(file: &TraceFile, replayed: &Replayed) -> String {
    let mut actors: Vec<String> = Vec::new();
    let id = |name: &str, actors: &mut Vec<String>| -> String {
        let i = actors.iter().position(|a| a == name).unwrap_or_else(|| {
            actors.push(name.to_string());
            actors.len() - 1
        });
        format!("A{i}")
    };
    let mut body = String::new();
    for (n, step) in replayed.steps.iter().enumerate() {
        let actor = step.actor.clone().unwrap_or_else(|| "system".into());
        let from = id(&actor, &mut actors);
        let text = step.text.clone().unwrap_or_default();
        // Drop the `actor: ` prefix when the arrow already names the actor.
        let what = match text.split_once(": ") {
            Some((who, rest)) if who == actor || step.to.as_deref() == Some(who) => rest,
            _ => text.as_str(),
        };
        let label = escape(&format!("{}. {what}", n + 1));
        if step.fault {
            body.push_str(&format!("    Note over {from}: {label}\n"));
        } else {
            let to = step
                .to
                .as_deref()
                .map_or_else(|| from.clone(), |t| id(t, &mut actors));
            body.push_str(&format!("    {from}->>{to}: {label}\n"));
        }
        // What the client hears back (acknowledgements) is a reply arrow to its lifeline.
        for change in &step.changes {
            if let Some(reply) = change.strip_prefix("client: ") {
                let client = id("client", &mut actors);
                body.push_str(&format!("    {from}-->>{client}: {}\n", escape(reply)));
            }
        }
    }
    let end = match &replayed.outcome {
        Outcome::Valid { .. } => "a valid run".to_string(),
        Outcome::Violates {
            property,
            spec_id,
            explanation,
            ..
        } => format!("violates {property} ({spec_id}): {explanation}"),
        Outcome::NotEnabled { step, .. } => format!("step {step} is not enabled"),
        Outcome::StateMismatch { step, path, .. } => {
            format!("the state after step {step} differs at {path}")
        }
    };
    if actors.is_empty() {
        actors.push("system".into());
    }
    let mut out = String::from("sequenceDiagram\n");
    let mut title = format!(
        "{} {}",
        file.protocol,
        file.config.as_deref().unwrap_or("default")
    );
    if let Some(m) = &file.mutant {
        title.push_str(&format!(", mutant {m}"));
    }
    out.push_str(&format!("    title {}\n", escape(&title)));
    for (i, a) in actors.iter().enumerate() {
        out.push_str(&format!("    participant A{i} as {}\n", escape(a)));
    }
    out.push_str(&body);
    let span = if actors.len() > 1 {
        format!("A0,A{}", actors.len() - 1)
    } else {
        "A0".to_string()
    };
    out.push_str(&format!("    Note over {span}: {}\n", escape(&end)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_escaped() {
        assert_eq!(escape("a; b #1\nc"), "a#59; b #35;1 c");
    }
}
