//! The fast composition's mailbox: it hands each message to its receiver's handler, at once and
//! in the order sent, calls the observer after every handled input, and keeps the writer's
//! records in the network abstraction when a step says so. On request it also keeps a tape of
//! every input it hands an actor ([`Handled`]), which is what a runtime carries out to take the
//! same step on its nodes.

use crate::actor::{Effects, Id};
use crate::quorum::actors::msg::{Ids, Msg, Storage, Timer};
use crate::quorum::actors::observer::{self, Before, Input};
use crate::quorum::actors::{client, control, segment, writer};
use crate::quorum::config::QuorumConfig;
use crate::quorum::state::{
    Net, Pending, QuorumState, SENT_CPL, SegSet, WriteMsg, WriterMode, WriterState,
};

/// One message: sender, receiver (actor indices), content, and whether a handler of this step
/// sent it (rather than the environment or the network abstraction handing it over).
type Letter = (u8, u8, Msg, bool);

/// One input a fast step hands an actor, or one thing the environment does to an actor: the
/// step as a runtime carries it out, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Actor `actor` starts (or restarts) from `storage`.
    Start {
        /// The actor.
        actor: u8,
        /// What it starts from (nothing at birth, or for a new writer incarnation).
        storage: Option<Storage>,
        /// What its start sent.
        sent: Vec<(u8, Msg)>,
    },
    /// Actor `dst` handles `msg` from `src`.
    Msg {
        /// Sender.
        src: u8,
        /// Receiver.
        dst: u8,
        /// Content.
        msg: Msg,
        /// A handler of this step sent it; otherwise the environment (a request, a fault's
        /// report) or the network abstraction (a record in flight) hands it over.
        by_handler: bool,
        /// What the handler sent.
        sent: Vec<(u8, Msg)>,
    },
    /// Actor `actor`'s `timer` fires.
    Timer {
        /// The actor.
        actor: u8,
        /// The timer.
        timer: Timer,
        /// What the handler sent.
        sent: Vec<(u8, Msg)>,
    },
    /// Actor `actor` crashes (a segment keeps its durable state, the writer nothing).
    Crash {
        /// The actor.
        actor: u8,
    },
    /// Segment actor `actor` loses its disk for good.
    DiskLoss {
        /// The actor.
        actor: u8,
    },
}

std::thread_local! {
    /// A mailbox for each search thread, kept between steps so that no step allocates one.
    static MAILBOX: std::cell::Cell<Vec<Letter>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A handler's sends, kept inline (no step allocates), with the overflow on the heap.
struct Outbox {
    inline: arrayvec::ArrayVec<(u8, Msg), 24>,
    spill: Vec<(u8, Msg)>,
}

impl Outbox {
    fn new() -> Self {
        Outbox {
            inline: arrayvec::ArrayVec::new(),
            spill: Vec::new(),
        }
    }
    fn clear(&mut self) {
        self.inline.clear();
        self.spill.clear();
    }
    fn iter(&self) -> impl Iterator<Item = &(u8, Msg)> {
        self.inline.iter().chain(self.spill.iter())
    }
}

impl Effects<Msg, Storage> for Outbox {
    fn send(&mut self, dst: Id, msg: Msg) {
        let dst = usize::from(dst).min(usize::from(u8::MAX)) as u8;
        if self.spill.is_empty() && !self.inline.is_full() {
            self.inline.push((dst, msg));
        } else {
            self.spill.push((dst, msg));
        }
    }
    fn save(&mut self, _storage: Storage) {}
}

/// One step's deliveries.
pub(super) struct Router<'c> {
    cfg: &'c QuorumConfig,
    ids: Ids,
    /// Letters waiting, oldest first (from `head`).
    mailbox: Vec<Letter>,
    head: usize,
    /// The current handler's sends.
    out: Outbox,
    /// The writer's records go to the network abstraction instead of to their segments (a new
    /// mini-transaction, a retransmission): they land in later steps.
    pub writes_to_net: bool,
    /// A recovery read reaches only these segments before the writer has its read quorum
    /// (later answers would be ignored, so they are dropped).
    pub read_from: Option<SegSet>,
    /// The step's inputs, when asked for.
    pub tape: Option<Vec<Handled>>,
}

/// Whether the writer actor runs: a crashed incarnation runs again once restarted.
pub fn writer_runs(w: &WriterState) -> bool {
    w.mode != WriterMode::Crashed || w.pending != Pending::None
}

fn idx(id: Id) -> u8 {
    usize::from(id).min(usize::from(u8::MAX)) as u8
}

impl<'c> Router<'c> {
    pub(super) fn new(cfg: &'c QuorumConfig) -> Self {
        Router {
            cfg,
            ids: Ids { slots: cfg.slots() },
            mailbox: MAILBOX.take(),
            head: 0,
            out: Outbox::new(),
            writes_to_net: false,
            read_from: None,
            tape: None,
        }
    }

    /// The actors' addresses.
    pub(super) fn ids(&self) -> Ids {
        self.ids
    }

    /// Queue `msg` from `src` to `dst` (the environment or the network abstraction hands it
    /// over).
    pub(super) fn post(&mut self, src: Id, dst: Id, msg: Msg) {
        self.mailbox.push((idx(src), idx(dst), msg, false));
    }

    /// Note on the tape what the environment does to an actor.
    pub(super) fn note(&mut self, h: Handled) {
        if let Some(t) = &mut self.tape {
            t.push(h);
        }
    }

    /// Note on the tape an input the current handler has just taken, with what it sent.
    fn record(&mut self, h: impl FnOnce(Vec<(u8, Msg)>) -> Handled) {
        if let Some(t) = &mut self.tape {
            t.push(h(self.out.iter().copied().collect()));
        }
    }

    /// Deliver every queued message, and every message those cause, until none is left.
    pub(super) fn run(&mut self, s: &mut QuorumState) {
        while let Some(&(src, dst, msg, by_handler)) = self.mailbox.get(self.head) {
            self.head += 1;
            self.deliver(s, src, dst, msg, by_handler);
        }
        self.mailbox.clear();
        self.head = 0;
    }

    /// Record what `actor` handled, and queue what it sent.
    fn handled(&mut self, s: &mut QuorumState, actor: u8, before: Before, input: Input<'_>) {
        if self.out.inline.is_empty() && before.unchanged(s) {
            return; // nothing happened: nothing to record, nothing to deliver
        }
        let mut ghost = s.ghost;
        let sent = self.out.iter().map(|(_, m)| m);
        observer::observe(self.cfg, &mut ghost, before, input, sent, s);
        s.ghost = ghost;
        let from_writer = usize::from(actor) == usize::from(self.ids.writer());
        for &(dst, msg) in self.out.iter() {
            if from_writer && self.writes_to_net && matches!(msg, Msg::Write { .. }) {
                to_net(s, dst, msg);
            } else {
                self.mailbox.push((actor, dst, msg, true));
            }
        }
        self.out.clear();
    }

    fn deliver(&mut self, s: &mut QuorumState, src: u8, dst: u8, msg: Msg, by_handler: bool) {
        let (cfg, ids) = (self.cfg, self.ids);
        let (src_id, dst_id) = (Id::from(usize::from(src)), Id::from(usize::from(dst)));
        let input = Input::Msg {
            src: src_id,
            msg: &msg,
        };
        let before = if let Some(i) = ids.slot_of(dst_id) {
            let x = &s.segs[i];
            // A retirement reaches a segment's copy even while its node is down: the copy is
            // discarded either way.
            let runs = !x.lost && (x.up || x.spare || matches!(msg, Msg::Retire));
            let skipped = matches!(msg, Msg::ReadScl { .. })
                && self.read_from.is_some_and(|y| y & (1 << i) == 0);
            if !runs || skipped {
                return;
            }
            let before = Before::segment(i, &s.segs[i]);
            let was_spare = s.segs[i].spare;
            segment::on_msg(cfg, ids, &mut s.segs[i], src_id, msg, &mut self.out);
            // A spare that joined serves; a retired segment stops.
            let x = &mut s.segs[i];
            if was_spare && !x.spare {
                x.up = true;
            }
            if x.lost {
                x.up = false;
            }
            before
        } else if dst_id == ids.writer() {
            if !writer_runs(&s.writer) {
                return;
            }
            let before = Before::writer(&s.writer);
            writer::on_msg(cfg, ids, &mut s.writer, src_id, msg, &mut self.out);
            before
        } else if dst_id == ids.control() {
            let before = Before::control(&s.control);
            control::on_msg(cfg, ids, &mut s.control, src_id, msg, &mut self.out);
            before
        } else if dst_id == ids.client() {
            client::on_msg(ids, src_id, msg, &mut self.out);
            Before::Client
        } else {
            return;
        };
        self.record(|sent| Handled::Msg {
            src,
            dst,
            msg,
            by_handler,
            sent,
        });
        self.handled(s, dst, before, input);
    }

    /// Fire `timer` on `actor` and deliver what follows.
    pub(super) fn fire(&mut self, s: &mut QuorumState, actor: Id, timer: Timer) {
        let (cfg, ids) = (self.cfg, self.ids);
        let input = Input::Timer(&timer);
        let a = idx(actor);
        let before = if let Some(i) = ids.slot_of(actor) {
            let x = &s.segs[i];
            if !x.up || x.lost || x.spare {
                return;
            }
            let before = Before::segment(i, &s.segs[i]);
            segment::on_timeout(cfg, i, &s.segs[i], &timer, &mut self.out);
            before
        } else if actor == ids.writer() {
            if !writer_runs(&s.writer) {
                return;
            }
            let before = Before::writer(&s.writer);
            writer::on_timeout(cfg, ids, &mut s.writer, &timer, &mut self.out);
            before
        } else if actor == ids.control() {
            let before = Before::control(&s.control);
            control::on_timeout(cfg, ids, &mut s.control, &timer, &mut self.out);
            before
        } else {
            return;
        };
        self.record(|sent| Handled::Timer {
            actor: a,
            timer,
            sent,
        });
        self.handled(s, a, before, input);
        self.run(s);
    }

    /// Start (or restart) segment `i` from `storage` and deliver what follows.
    pub(super) fn start_segment(
        &mut self,
        s: &mut QuorumState,
        i: usize,
        storage: Option<Storage>,
    ) {
        let before = Before::segment(i, &s.segs[i]);
        let mut st = segment::on_start(self.cfg, self.ids, i, storage.as_ref(), &mut self.out);
        let actor = idx(self.ids.seg(i));
        self.record(|sent| Handled::Start {
            actor,
            storage,
            sent,
        });
        st.up = !st.spare && !st.lost;
        s.segs[i] = st;
        self.handled(s, idx(self.ids.seg(i)), before, Input::Start);
        self.run(s);
    }

    /// Start a new writer incarnation and deliver what follows.
    pub(super) fn start_writer(&mut self, s: &mut QuorumState) {
        let before = Before::writer(&s.writer);
        s.writer = writer::on_start(self.ids, &mut self.out);
        let actor = idx(self.ids.writer());
        self.record(|sent| Handled::Start {
            actor,
            storage: None,
            sent,
        });
        self.handled(s, idx(self.ids.writer()), before, Input::Start);
        self.run(s);
    }
}

impl Drop for Router<'_> {
    fn drop(&mut self) {
        self.mailbox.clear();
        MAILBOX.set(std::mem::take(&mut self.mailbox));
    }
}

/// A record the writer sent stays in flight.
fn to_net(s: &mut QuorumState, dst: u8, msg: Msg) {
    let Msg::Write { lsn, vol, mem, cpl } = msg else {
        return;
    };
    match &mut s.net {
        Net::Instant { sent } => {
            sent[usize::from(lsn) - 1] = vol | if cpl { SENT_CPL } else { 0 };
        }
        Net::Explicit { msgs } => {
            let m = WriteMsg {
                dst,
                lsn,
                vol_epoch: vol,
                mem_epoch: mem,
                cpl,
            };
            let at = msgs.partition_point(|x| x <= &m);
            msgs.insert(at, m);
        }
    }
}
