//! A reader instance: it serves reads from the pages it caches, keeps them current by
//! applying the engine's redo stream, and drops them when the engine says so at a resume
//! (a rewound cluster's pages are not the ones it cached). Nothing here is durable: a reader
//! that loses its cache fills it again from the engine.

use quorate_model::backtrack::state::Values;

use super::wire::Msg;

/// One reader instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReaderNode {
    /// Its cache (`None`: empty).
    pub cache: Option<Values>,
}

impl ReaderNode {
    /// Whether it needs the engine's pages to serve a read.
    pub fn wants_pages(&self) -> bool {
        self.cache.is_none()
    }

    /// Handle a message from the engine.
    pub fn handle(&mut self, msg: &Msg) {
        match *msg {
            Msg::Pages { values } if self.cache.is_none() => self.cache = Some(values),
            Msg::Committed { id, wrote } => {
                if let Some(c) = &mut self.cache {
                    for (k, x) in c.iter_mut().enumerate() {
                        if wrote & (1 << k) != 0 {
                            *x = id;
                        }
                    }
                }
            }
            Msg::Resumed { drop: true } => self.cache = None,
            _ => {}
        }
    }
}
