//! The suite as JUnit XML, the format CI systems show as test results: one testcase per entry
//! (with a failure when it does not match), plus one testcase for the suite-wide checks so that
//! a missing mutant entry or an unkilled property also turns CI red.

use super::file::Entry;
use super::judge::Judgement;
use super::scenarios::ScenarioResult;

/// The JUnit XML document for a judged run; `seconds[i]` is the wall time of `entries[i]`.
pub fn junit_xml(
    entries: &[Entry],
    judgement: &Judgement,
    seconds: &[f64],
    scenarios: &[ScenarioResult],
) -> String {
    let tests = entries.len() + 1 + scenarios.len();
    let failures = judgement.failed()
        + usize::from(!judgement.problems.is_empty())
        + scenarios.iter().filter(|r| !r.ok).count();
    let total: f64 = seconds.iter().sum::<f64>() + scenarios.iter().map(|r| r.seconds).sum::<f64>();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"quorate suite\" tests=\"{tests}\" failures=\"{failures}\" time=\"{total:.3}\">\n"
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"quorate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.3}\">\n"
    ));
    for (i, (e, v)) in entries.iter().zip(&judgement.entries).enumerate() {
        let mut name = format!("#{} {} expect {}", e.index, e.what(), e.expect.as_str());
        if let Some(p) = &e.property {
            name.push_str(&format!(" of {p}"));
        }
        let time = seconds.get(i).copied().unwrap_or(0.0);
        xml.push_str(&format!(
            "    <testcase classname=\"quorate.{}.{}\" name=\"{}\" time=\"{time:.3}\"",
            escape(&e.protocol),
            escape(&e.config),
            escape(&name)
        ));
        if v.ok {
            xml.push_str(" />\n");
        } else {
            xml.push_str(">\n");
            failure(&mut xml, &format!("got {}", v.got), &v.reasons);
            xml.push_str("    </testcase>\n");
        }
    }
    for r in scenarios {
        xml.push_str(&format!(
            "    <testcase classname=\"quorate.scenario.{}\" name=\"{} expect {}\" time=\"{:.3}\"",
            escape(&r.protocol),
            escape(&r.name),
            escape(&r.expected),
            r.seconds
        ));
        if r.ok {
            xml.push_str(" />\n");
        } else {
            xml.push_str(">\n");
            let reasons: Vec<String> = r.reason.iter().cloned().collect();
            failure(&mut xml, &format!("got {}", r.got), &reasons);
            xml.push_str("    </testcase>\n");
        }
    }
    xml.push_str("    <testcase classname=\"quorate.suite\" name=\"suite-wide: every always-property killed, every mutant covered\" time=\"0\"");
    if judgement.problems.is_empty() {
        xml.push_str(" />\n");
    } else {
        xml.push_str(">\n");
        let message = format!("{} suite-wide problem(s)", judgement.problems.len());
        failure(&mut xml, &message, &judgement.problems);
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn failure(xml: &mut String, message: &str, reasons: &[String]) {
    let message = match reasons.first() {
        Some(first) => format!("{message}: {first}"),
        None => message.to_string(),
    };
    xml.push_str(&format!(
        "      <failure message=\"{}\">{}</failure>\n",
        escape(&message),
        escape(&reasons.join("\n"))
    ));
}

/// Escape for XML text and attributes; drops characters XML 1.0 cannot carry at all.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
