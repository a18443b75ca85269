//! Trace validation: a run's per-node logs replayed on the model, event by event.
//!
//! Replaying a deterministic handler on its own inputs would prove nothing, so the logs record
//! what crossed each node's I/O boundary: what it received (and from whom, with the sender's
//! number for the message), its timers, its inputs from the environment, each save once it was
//! synced, each message once it was released, what its disk gave back at every start, and the
//! crashes and lost disks the runtime caused. The validator interleaves the logs in an order
//! that respects causality (a message is received after it was sent) and takes one model step
//! per logged input. It checks that:
//!
//! * every input is one the model allows in that state (a message in flight, an actor that
//!   runs, a fault within its budget);
//! * the messages a node released after an input are exactly those the model's handler sends;
//! * a save was synced before any message of the same input was released, and what was synced
//!   is what the model saved;
//! * what a node read from its disk at a restart, and what its disk gives back at the round's
//!   end once everything unsynced is dropped, is what the model saved last;
//! * every `always` property holds in every state along the way.
//!
//! The first divergence is reported with the node, the event and why.

use std::collections::BTreeMap;
use std::fmt::Debug;

use super::event::Event;

/// A model that a run is replayed on.
pub trait Replay {
    /// Messages.
    type Msg: Clone + Debug + PartialEq + Ord;
    /// Timers.
    type Timer: Clone + Debug;
    /// What survives a crash.
    type Storage: Clone + Debug + PartialEq;
    /// The model's state.
    type State: Clone;

    /// The state right after every actor started.
    fn start(&self) -> Self::State;
    /// What actor `i` sent when it started (in the start state), as `(receiver, message)`.
    fn sent_at_start(&self, s: &Self::State, i: usize) -> Vec<(usize, Self::Msg)>;
    /// Actor `dst` handles `msg` from `src`.
    fn deliver(&self, s: &Self::State, src: usize, dst: usize, msg: &Self::Msg) -> Step<Self>;
    /// A timer of actor `i` fires.
    fn timer(&self, s: &Self::State, i: usize, timer: &Self::Timer) -> Step<Self>;
    /// Actor `i` takes an input from the environment.
    fn input(&self, s: &Self::State, i: usize, msg: &Self::Msg) -> Step<Self>;
    /// Actor `i` crashes.
    fn crash(&self, s: &Self::State, i: usize) -> Step<Self>;
    /// Actor `i` restarts from its storage.
    fn restart(&self, s: &Self::State, i: usize) -> Step<Self>;
    /// Actor `i`'s disk is lost (what it sends are the reports on its behalf).
    fn lose(&self, s: &Self::State, i: usize) -> Step<Self>;
    /// The network makes a second copy of `msg` in flight from `src` to `dst`.
    fn duplicate(&self, s: &Self::State, src: usize, dst: usize, msg: &Self::Msg) -> Step<Self>;
    /// What actor `i` saved last.
    fn saved(&self, s: &Self::State, i: usize) -> Option<Self::Storage>;
    /// The first `always` property violated in `s`, with why.
    fn violation(&self, s: &Self::State) -> Option<(&'static str, String)>;
}

/// A model step: the next state and what it sent, as `(receiver, message)`; or why the model
/// does not allow it.
pub type Step<R> = Result<(<R as Replay>::State, Vec<(usize, <R as Replay>::Msg)>), String>;

/// The log event type of a model.
pub type EventOf<R> = Event<<R as Replay>::Msg, <R as Replay>::Timer, <R as Replay>::Storage>;

/// How a validated run went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validated {
    /// Events replayed.
    pub events: usize,
    /// Inputs (model steps) replayed.
    pub steps: usize,
    /// States on which every `always` property was checked.
    pub states: usize,
}

/// Where a run departed from the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The node.
    pub node: usize,
    /// The index of the event in its log.
    pub event: usize,
    /// What the event was.
    pub what: String,
    /// Why it diverges.
    pub why: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "node {} event {} ({}): {}",
            self.node, self.event, self.what, self.why
        )
    }
}

/// One input and the outputs that followed it in a node's log.
struct Group {
    /// Index in the log of the input.
    at: usize,
    /// Index one past its last output.
    end: usize,
}

fn groups<M, T, S>(log: &[Event<M, T, S>]) -> Vec<Group> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < log.len() {
        let mut end = at + 1;
        while end < log.len() && matches!(log[end], Event::Saved { .. } | Event::Sent { .. }) {
            end += 1;
        }
        out.push(Group { at, end });
        at = end;
    }
    out
}

/// A read's other side: node `node`'s act (its group number `act`) must be replayed before
/// this node's event number `events`, the first the environment had not seen when it read.
struct Barrier {
    events: usize,
    node: usize,
    act: usize,
}

/// Every node's barriers, by the event they hold back. A read is followed in its node's log by
/// the act it decided (a start, crash, lost disk or input); a read followed by anything else
/// decided nothing that was carried out, and holds nothing back.
fn barriers<M, T, S>(logs: &[Vec<Event<M, T, S>>], grouped: &[Vec<Group>]) -> Vec<Vec<Barrier>> {
    let mut out: Vec<Vec<Barrier>> = logs.iter().map(|_| Vec::new()).collect();
    for (y, groups) in grouped.iter().enumerate() {
        let mut k = 0;
        while k < groups.len() {
            let first = k;
            while k < groups.len() && matches!(logs[y][groups[k].at], Event::Saw { .. }) {
                k += 1;
            }
            if k == first {
                k += 1;
                continue;
            }
            let acts = groups.get(k).is_some_and(|g| {
                matches!(
                    logs[y][g.at],
                    Event::Start { .. } | Event::Crash | Event::Lost | Event::Input { .. }
                )
            });
            if !acts {
                continue;
            }
            for g in &groups[first..k] {
                if let Event::Saw { node, events } = logs[y][g.at]
                    && node != y
                    && node < logs.len()
                {
                    out[node].push(Barrier {
                        events,
                        node: y,
                        act: k,
                    });
                }
            }
        }
    }
    for b in &mut out {
        b.sort_by_key(|b| b.events);
    }
    out
}

/// Replay `logs` (node `i`'s log at index `i`) on `model`.
pub fn validate<R: Replay>(model: &R, logs: &[Vec<EventOf<R>>]) -> Result<Validated, Divergence> {
    let mut s = model.start();
    let mut report = Validated::default();
    // How often each released message was received: a message received twice was duplicated
    // by the network while in flight.
    let mut receipts: BTreeMap<(usize, u64), usize> = BTreeMap::new();
    for log in logs {
        for e in log {
            if let Event::Recv { src, seq, .. } = e {
                *receipts.entry((*src, *seq)).or_default() += 1;
            }
        }
    }
    let grouped: Vec<Vec<Group>> = logs.iter().map(|l| groups(l)).collect();
    let mut next = vec![0usize; logs.len()];
    // Every released message by (sender, number): its receiver and content.
    let mut released: BTreeMap<(usize, u64), (usize, R::Msg)> = BTreeMap::new();
    let fail = |node: usize, at: usize, why: String| Divergence {
        node,
        event: at,
        what: logs[node]
            .get(at)
            .map_or("end of log".into(), |e| format!("{e:?}")),
        why,
    };
    // Each node's first event is its birth, which the start state already took.
    for (i, log) in logs.iter().enumerate() {
        let Some(first) = grouped[i].first() else {
            return Err(fail(
                i,
                0,
                "the node logged nothing (a log starts with the node's birth)".into(),
            ));
        };
        if !matches!(log[first.at], Event::Start { storage: None }) {
            return Err(fail(i, 0, "a node's log starts with its birth".into()));
        }
        let want = model.sent_at_start(&s, i);
        let fresh = outputs::<R>(
            model,
            &s,
            &s,
            i,
            &log[first.at..first.end],
            want,
            &mut released,
        )
        .map_err(|why| fail(i, first.at, why))?;
        s = copies(model, s, i, &fresh, &receipts).map_err(|why| fail(i, first.at, why))?;
        report.events += first.end - first.at;
        next[i] = 1;
    }
    // How many of node `n`'s events the replay has taken.
    let replayed =
        |next: &[usize], n: usize| grouped[n].get(next[n]).map_or(logs[n].len(), |g| g.at);
    let barriers = barriers(logs, &grouped);
    // For each node, how many of its barriers the replay has passed.
    let mut passed = vec![0usize; logs.len()];
    loop {
        // The lowest node whose next input can be taken now: a receive once its send is, a read
        // once the events it read are, and no event of a node read before the act the read
        // decided.
        let mut pick = None;
        for i in 0..logs.len() {
            let Some(g) = grouped[i].get(next[i]) else {
                continue;
            };
            while barriers[i]
                .get(passed[i])
                .is_some_and(|b| b.events <= g.at && next[b.node] > b.act)
            {
                passed[i] += 1;
            }
            let held = barriers[i].get(passed[i]).is_some_and(|b| b.events <= g.at);
            let ready = !held
                && match &logs[i][g.at] {
                    Event::Recv { src, seq, .. } => released.contains_key(&(*src, *seq)),
                    Event::Saw { node, events } => {
                        *node < logs.len() && replayed(&next, *node) >= *events
                    }
                    _ => true,
                };
            if ready {
                pick = Some(i);
                break;
            }
        }
        let Some(i) = pick else {
            if let Some(i) = (0..logs.len()).find(|&i| next[i] < grouped[i].len()) {
                let at = grouped[i][next[i]].at;
                let why = match &logs[i][at] {
                    _ if barriers[i].get(passed[i]).is_some_and(|b| b.events <= at) => {
                        let b = &barriers[i][passed[i]];
                        format!(
                            "the environment acted on node {} after reading this node's first {} \
                             events and before its next, and the replay cannot take that act \
                             here",
                            b.node, b.events
                        )
                    }
                    Event::Recv { src, seq, .. }
                        if logs.get(*src).is_some_and(|l| {
                            l.iter()
                                .any(|e| matches!(e, Event::Sent { seq: q, .. } if q == seq))
                        }) =>
                    {
                        format!(
                            "it received node {src}'s send {seq}, which node {src} logged but \
                             only after an event the model cannot take (the replay of every \
                             log is stuck here)"
                        )
                    }
                    Event::Saw { node, events } => format!(
                        "the environment acted here after reading node {node}'s first {events} \
                         events, which the replay cannot reach"
                    ),
                    _ => "it received a message no node released".into(),
                };
                return Err(fail(i, at, why));
            }
            return Ok(report);
        };
        let g = &grouped[i][next[i]];
        next[i] += 1;
        let before = s.clone();
        let step = match &logs[i][g.at] {
            Event::Recv { src, seq, msg } => {
                let (dst, content) = released
                    .get(&(*src, *seq))
                    .cloned()
                    .expect("picked only if released");
                if dst != i || content != *msg {
                    return Err(fail(
                        i,
                        g.at,
                        format!("node {src} released send {seq} as {content:?} to node {dst}"),
                    ));
                }
                model.deliver(&s, *src, i, msg)
            }
            Event::Timer { timer } => model.timer(&s, i, timer),
            Event::Input { msg } => model.input(&s, i, msg),
            Event::Crash => model.crash(&s, i),
            Event::Lost => model.lose(&s, i),
            Event::Start { storage } => {
                let want = model.saved(&s, i);
                if *storage != want {
                    return Err(fail(
                        i,
                        g.at,
                        format!("its disk gave back {storage:?}; it had synced {want:?} last"),
                    ));
                }
                model.restart(&s, i)
            }
            Event::End { storage } => {
                if g.end != logs[i].len() {
                    return Err(fail(
                        i,
                        g.at,
                        "the round's end is not the last event".into(),
                    ));
                }
                let want = model.saved(&s, i);
                let gone = logs[i].iter().any(|e| matches!(e, Event::Lost));
                if !gone && *storage != want {
                    return Err(fail(
                        i,
                        g.at,
                        format!(
                            "at the round's end its disk gave back {storage:?}; it had synced \
                             {want:?} last"
                        ),
                    ));
                }
                report.events += g.end - g.at;
                continue;
            }
            Event::Saw { .. } => {
                if g.end != g.at + 1 {
                    return Err(fail(i, g.at, "a node logs no output after a read".into()));
                }
                report.events += 1;
                continue;
            }
            Event::Saved { .. } | Event::Sent { .. } => unreachable!("an output starts no group"),
        };
        let (after, sent) = step.map_err(|why| fail(i, g.at, why))?;
        let fresh = outputs::<R>(
            model,
            &before,
            &after,
            i,
            &logs[i][g.at..g.end],
            sent,
            &mut released,
        )
        .map_err(|why| fail(i, g.at, why))?;
        s = copies(model, after, i, &fresh, &receipts).map_err(|why| fail(i, g.at, why))?;
        report.events += g.end - g.at;
        report.steps += 1;
        report.states += 1;
        if let Some((name, why)) = model.violation(&s) {
            return Err(fail(i, g.at, format!("violates {name}: {why}")));
        }
    }
}

/// `s` with a copy more of each message in `fresh` (node `i`'s sends, by number) for every
/// extra time it was received.
fn copies<R: Replay>(
    model: &R,
    mut s: R::State,
    i: usize,
    fresh: &[(u64, usize, R::Msg)],
    receipts: &BTreeMap<(usize, u64), usize>,
) -> Result<R::State, String> {
    for (seq, dst, msg) in fresh {
        let n = receipts.get(&(i, *seq)).copied().unwrap_or(0);
        for _ in 1..n {
            s = model.duplicate(&s, i, *dst, msg)?.0;
        }
    }
    Ok(s)
}

/// Check the outputs node `i` logged after an input (`logged`: the input, then its outputs)
/// against the model's: saves synced before any send, the last save what the model saved, the
/// sends what the model sent. Returns the sends, numbered.
fn outputs<R: Replay>(
    model: &R,
    before: &R::State,
    after: &R::State,
    i: usize,
    logged: &[EventOf<R>],
    want: Vec<(usize, R::Msg)>,
    released: &mut BTreeMap<(usize, u64), (usize, R::Msg)>,
) -> Result<Vec<(u64, usize, R::Msg)>, String> {
    let mut sent = Vec::new();
    let mut fresh = Vec::new();
    let mut saved = None;
    for e in logged {
        match e {
            Event::Saved { storage } => {
                if !sent.is_empty() {
                    return Err(format!(
                        "it released {:?} before the save it depends on was synced",
                        sent[0]
                    ));
                }
                saved = Some(storage.clone());
            }
            Event::Sent { dst, seq, msg } => {
                if released.range((i, *seq)..=(i, u64::MAX)).next().is_some() {
                    return Err(format!(
                        "its send number {seq} is not above every earlier one"
                    ));
                }
                released.insert((i, *seq), (*dst, msg.clone()));
                sent.push((*dst, msg.clone()));
                fresh.push((*seq, *dst, msg.clone()));
            }
            _ => {}
        }
    }
    let (model_before, model_after) = (model.saved(before, i), model.saved(after, i));
    // A lost disk holds nothing: what the model records for it is that it is gone, which no
    // disk syncs.
    let gone = matches!(logged.first(), Some(Event::Lost));
    match saved {
        Some(s) if gone => {
            return Err(format!("it synced {s:?} to a disk that is gone"));
        }
        None if gone => {}
        Some(s) if Some(&s) != model_after.as_ref() => {
            return Err(format!("it synced {s:?}; the model saved {model_after:?}"));
        }
        None if model_after != model_before => {
            return Err(format!(
                "the model saved {model_after:?}, which it never synced"
            ));
        }
        _ => {}
    }
    let (mut got, mut want) = (sent, want);
    got.sort();
    want.sort();
    if got != want {
        return Err(format!("it released {got:?}; the model sends {want:?}"));
    }
    Ok(fresh)
}
