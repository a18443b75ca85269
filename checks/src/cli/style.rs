//! Small text helpers shared by the renderers: ANSI colour that can be switched off, digit
//! grouping, and word wrapping to keep output readable at 80 columns.

/// Output is laid out for terminals of this width.
pub const WIDTH: usize = 80;

/// A colour for a word of output (status words, ok/FAIL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    /// Failures: violated, unwitnessed, FAIL.
    Red,
    /// Success: holds, witnessed, ok.
    Green,
    /// Undecided: unknown, incomplete.
    Yellow,
    /// Headings.
    Bold,
}

/// Whether to emit ANSI escapes. Decided once from the terminal and `NO_COLOR`, then passed
/// down, so renderers stay pure and testable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// Emit ANSI colour escapes.
    pub colour: bool,
}

impl Style {
    /// `text` in `colour`, or unchanged when colour is off.
    pub fn paint(self, colour: Colour, text: &str) -> String {
        if !self.colour {
            return text.to_string();
        }
        let code = match colour {
            Colour::Red => "1;31",
            Colour::Green => "32",
            Colour::Yellow => "33",
            Colour::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// `text` left-aligned in `width` columns, then painted: padding is computed on the plain
    /// text because escapes take no columns.
    pub fn paint_padded(self, colour: Colour, text: &str, width: usize) -> String {
        let pad = width.saturating_sub(text.chars().count());
        format!("{}{}", self.paint(colour, text), " ".repeat(pad))
    }
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as whole mebibytes, e.g. `512 MB`.
pub fn megabytes(bytes: u64) -> String {
    format!("{} MB", group(bytes.div_ceil(1024 * 1024)))
}

/// States per second, guarding against a zero-length run.
pub fn rate(states: u64, seconds: f64) -> u64 {
    if seconds > 0.0 {
        (states as f64 / seconds) as u64
    } else {
        states
    }
}

/// Word-wrap `text` so that every line, including `first` (the prefix of the first line) and
/// `rest` (the prefix of later lines), fits in [`WIDTH`] columns where the words allow it.
/// Words longer than a line are kept whole rather than split.
pub fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut prefix_len = first.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_string();
            prefix_len = rest.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty || prefix_len > 0 {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Collapse a message to one line: usage errors must be exactly one line on stderr even when
/// a protocol's message contains newlines.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
    }

    #[test]
    fn wraps_within_width() {
        let text = "word ".repeat(50);
        let wrapped = wrap(&text, "  first: ", "         ");
        assert!(wrapped.lines().count() > 2);
        assert!(wrapped.lines().all(|l| l.chars().count() <= WIDTH));
        assert!(wrapped.starts_with("  first: word"));
        assert!(wrapped.lines().nth(1).unwrap().starts_with("         word"));
    }

    #[test]
    fn paint_is_identity_without_colour() {
        assert_eq!(Style::default().paint(Colour::Red, "x"), "x");
        assert_eq!(
            Style { colour: true }.paint(Colour::Red, "x"),
            "\x1b[1;31mx\x1b[0m"
        );
        assert_eq!(Style::default().paint_padded(Colour::Red, "x", 3), "x  ");
    }

    #[test]
    fn one_line_collapses_newlines() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
