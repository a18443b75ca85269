//! A run's logs on disk: one file per node, `node-I.jsonl`, one [`Event`](super::event::Event)
//! per line as JSON, in the order the node logged them. What the trace validator reads back is
//! what it checks, so a run is validated from these files, not from memory.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The file name of node `i`'s log.
pub fn file_name(i: usize) -> String {
    format!("node-{i}.jsonl")
}

/// Write `logs` (node `i`'s at index `i`) into `dir`, which must exist.
pub fn write<E: Serialize>(dir: &Path, logs: &[Vec<E>]) -> std::io::Result<()> {
    for (i, log) in logs.iter().enumerate() {
        let mut w = BufWriter::new(fs::File::create(dir.join(file_name(i)))?);
        for e in log {
            serde_json::to_writer(&mut w, e)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    Ok(())
}

/// Read the logs of `nodes` nodes from `dir`. The error is one line that names the file and
/// line and what was wrong with it.
pub fn read<E: DeserializeOwned>(dir: &Path, nodes: usize) -> Result<Vec<Vec<E>>, String> {
    let mut logs = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let path = dir.join(file_name(i));
        let text = fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read {}: {e} (a run's directory holds node-0.jsonl .. node-{}.jsonl)",
                path.display(),
                nodes - 1
            )
        })?;
        let mut log = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let e = serde_json::from_str(line).map_err(|e| {
                format!(
                    "{} line {}: not an event of this protocol's log: {e}",
                    path.display(),
                    n + 1
                )
            })?;
            log.push(e);
        }
        logs.push(log);
    }
    let extra = dir.join(file_name(nodes));
    if extra.exists() {
        return Err(format!(
            "{} is there, but the run's config has {nodes} nodes: the logs are of another config",
            extra.display()
        ));
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::event::Event;

    type E = Event<u8, u8, u8>;

    #[test]
    fn logs_read_back_as_written() {
        let dir = std::env::temp_dir().join(format!("quorate-logs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let logs: Vec<Vec<E>> = vec![
            vec![Event::Start { storage: None }, Event::Timer { timer: 1 }],
            vec![Event::Start { storage: Some(3) }, Event::Crash],
        ];
        write(&dir, &logs).unwrap();
        assert_eq!(read::<E>(&dir, 2).unwrap(), logs);
        let too_few = read::<E>(&dir, 1).unwrap_err();
        assert!(too_few.contains("another config"), "{too_few}");
        let too_many = read::<E>(&dir, 3).unwrap_err();
        assert!(too_many.contains("node-2.jsonl"), "{too_many}");
        fs::write(dir.join(file_name(1)), "{\"Timer\":{\"timer\":\"x\"}}\n").unwrap();
        let bad = read::<E>(&dir, 2).unwrap_err();
        assert!(bad.contains("line 1"), "{bad}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
