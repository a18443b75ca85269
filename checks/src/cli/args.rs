//! The command-line grammar (clap derive) and the help texts that teach it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Exhaustively model-check Aurora-style database protocols";

const LONG_ABOUT: &str = "\
Quorate explores every reachable state of a protocol model (storage quorums,
consistency points, gossip repair, membership changes, AZ+1 faults) and judges
each property of the protocol's spec: `always` properties must hold in every
state, `eventually` properties in every quiescent state, and `sometimes`
properties must be witnessed somewhere, so that a pass is not vacuous. Every
violation comes with a shortest counterexample.";

const AFTER_HELP: &str = "\
Exit codes:
  0  complete search, every property holds or is witnessed
     (suite: every entry matches)
  1  a property is violated, a sometimes-property is unwitnessed, or the
     search stopped early (suite: some entry or suite-wide check fails)
  2  bad usage or configuration; one line on stderr says what is wrong

Examples:
  quorate list                              what can be checked
  quorate check quorum --config ci          a quick exhaustive check
  quorate check quorum --mutant w3r3        watch a planted bug get caught
  quorate check quorum --format json        the report as JSON on stdout
  quorate suite --junit target/quorate.xml  the CI suite (checks/suite.toml)";

const CHECK_LONG_ABOUT: &str = "\
Check one protocol exhaustively: every reachable state of the chosen config is
explored, unless --max-states or --max-seconds stops the search early (the
result is then incomplete, exit code 1). For every violated property the
counterexample shown is a shortest one: no shorter sequence of steps from an
initial state reaches a violating state.";

const CHECK_AFTER_HELP: &str = "\
Examples:
  quorate check quorum --config ci
  quorate check quorum --mutant w3r3 --witnesses
  quorate check quorum --max-seconds 60 --format json > report.json

Your own quorum geometry: override the config's parameters with --set, e.g.
  quorate check quorum --set write_quorum=3 --set read_quorum=3
(3 + 3 is not more than 6 segments, so a read can miss an acknowledged write:
expect a counterexample). `quorate list` shows every parameter and its range.

Exit codes: 0 all properties hold/witnessed on a complete search; 1 violation,
unwitnessed or incomplete; 2 bad usage or config.";

const SUITE_LONG_ABOUT: &str = "\
Run the check suite: every [[check]] entry of the TOML file names a protocol,
a config, an optional mutant and the expected outcome (`pass`, or `violation`
of a named property), with optional pins of the unique state count and of the
shortest counterexample's length. The suite also fails when some
always-property is violated by no mutant entry, or when a mutant the protocol
declares has no entry. Without --full only the CI tier runs (entries not
marked tier = \"full\"), and those rules apply to it alone.";

const SUITE_AFTER_HELP: &str = "\
Entry format:
  [[check]]
  protocol = \"quorum\"
  config = \"ci\"
  mutant = \"w3r3\"                 # optional
  expect = \"violation\"            # or \"pass\"
  property = \"a1_acked_readable\"  # required with expect = \"violation\"
  trace_len = 8                   # optional pin: shortest counterexample length
  states_unique = 123456          # optional pin: unique states
  set = [\"write_quorum=3\"]        # optional --set overrides
  tier = \"full\"                   # optional: run only with --full

Examples:
  quorate suite
  quorate suite --full
  quorate suite --only quorum --threads 8
  quorate suite checks/suite.toml --junit target/quorate-junit.xml

Exit codes: 0 every entry matches; 1 some entry or suite-wide check fails;
2 bad usage or a bad suite file.";

const PROTOCOL_HELP: &str = "\
The protocol to check, e.g. quorum (`quorate list` shows them all).";

const CONFIG_HELP: &str = "\
Config preset, e.g. ci, default or deep (see quorate list).
[default: `default` if the protocol has one, else its first config]";

const SET_HELP: &str = "\
Override one parameter of the config; repeatable, and a later --set of
the same key wins. `quorate list` shows each parameter and its range.";

const MUTANT_HELP: &str = "\
Plant a deliberate bug (see quorate list); the check should then fail
with a counterexample for the property that catches it.";

const THREADS_HELP: &str = "\
Worker threads. The verdict, the state counts and the counterexample
lengths do not depend on it, only the speed. [default: all cores]";

const STRATEGY_HELP: &str = "\
Search order: bfs (breadth-first, level by level) or dfs (depth-first,
less memory for the frontier). Both report shortest counterexamples.
[default: bfs]";

const FORMAT_HELP: &str = "\
Output: text (summary, property table and numbered counterexamples,
coloured on a terminal unless NO_COLOR is set) or json (exactly the
report object on stdout, nothing else; progress only on a terminal's
stderr). [default: text]";

const MAX_STATES_HELP: &str = "\
Stop after N unique states. The result is then incomplete (exit 1):
properties not violated so far are reported as unknown.";

const MAX_SECONDS_HELP: &str = "\
Stop after S seconds, e.g. 90 or 0.5. The result is then incomplete
(exit 1): properties not violated so far are reported as unknown.";

const MAX_MEMORY_HELP: &str = "\
Stop once the process uses SIZE of memory (resident), e.g. 8G, 500M or
2048K (plain numbers are bytes); 'none' removes the limit. The default
is 90% of the memory available when the check starts, so a state space
too big for this machine ends in a partial report (exit 1, complete:
false) rather than being killed by the kernel with nothing to show.";

const WITNESSES_HELP: &str = "\
Also print, for every witnessed sometimes-property, a shortest trace
to a witnessing state (text output).";

const KEEP_GOING_HELP: &str = "\
By default the search stops at the end of the first breadth-first
level in which an always or eventually property is violated (as TLC
and SPIN do): every violation found there is reported with a shortest
trace, the rest stay unknown, and the report says complete: false.
With --keep-going every reachable state is explored, so every
property gets a verdict.";

const FILE_HELP: &str = "\
The suite file. A relative path missing from the current directory is
also looked up in the quorate source tree.
[default: checks/suite.toml]";

const FULL_HELP: &str = "\
Also run the entries marked tier = \"full\": the largest state spaces,
whose features smaller entries of the CI tier also reach. Without
--full the suite runs the CI tier, which on its own must still catch
every mutant with its named property and violate every always
property. Run the full tier before a release and after changing a
protocol; checks/suite.toml's full tier adds about 40% to the CI
tier's time.";

const TRACE_OUT_HELP: &str = "\
Write the counterexample of the first violated property (or, with
--trace-of, the trace of any violated or witnessed property) to
FILE as JSON: protocol, config, parameters, mutant, the initial
state and every step's action and state (specs/trace-format.md).
`quorate trace show` and `quorate trace replay` read it. Nothing
is written when there is no such trace.";

const TRACE_OF_HELP: &str = "\
The property whose trace --trace-out writes: a violated always or
eventually property, or a witnessed sometimes property (its witness, a
good start for a hand-written scenario).";

const TRACE_SHOW_LONG_ABOUT: &str = "\
Show a trace file. The trace is replayed against the model it names, so
every step is shown in the model's words with what it changed, whether
the file holds those words (a checker's trace) or only actions (a
hand-written scenario). The last lines say how the trace ends: the
property it violates with its explanation, a valid run, or the first
step the model cannot take.";

const TRACE_SHOW_AFTER_HELP: &str = "\
Formats:
  text     numbered steps, each with the state fields it changed
  mermaid  a Mermaid sequence diagram (paste into mermaid.live or a
           Markdown file): actors as lifelines, faults as notes
  itf      the Informal Trace Format of Apalache and Quint (JSON)

Examples:
  quorate check global --config ci --mutant no-gate --trace-out t.json
  quorate trace show t.json
  quorate trace show t.json --format mermaid > t.mmd

Exit codes: 0 shown; 1 the trace is not a run of the model (a step is
not enabled, or a recorded state differs); 2 unreadable file.";

const TRACE_REPLAY_LONG_ABOUT: &str = "\
Replay a trace file step by step against the model it names: each step's
action must be enabled in the state reached so far, each recorded state
must equal the model's, and every always property (and, at a quiescent
last state, every eventually property) is judged along the way. Use it
to check a scenario you wrote by hand.";

const TRACE_REPLAY_AFTER_HELP: &str = "\
A minimal scenario (actions as `quorate trace show` prints them in JSON):
  {\"format\": \"quorate-trace/1\", \"protocol\": \"global\",
   \"config\": \"ci\",
   \"steps\": [{\"action\": {\"Write\": {\"region\": 0}}},
             {\"action\": \"Tick\"}]}

Exit codes: 0 a valid run; 1 a property is violated, a step is not
enabled or a state differs; 2 unreadable file or unknown protocol,
config, parameter or mutant.";

const TRACE_VALIDATE_LONG_ABOUT: &str = "\
Validate the logs of a run of the implementation against the model (trace
validation). A round's directory holds run.json (the protocol, config,
overrides, mutant, seed and each node's number of events, so that a log
cut short is seen) and one log per node, node-I.jsonl: what
crossed that node's I/O boundary, in order. The logs are interleaved in
an order that respects causality (a message is received after it was
sent) and replayed on the protocol's actor model: every input must be one
the model allows, every released send one the model's handler emits, no
send released before the save it depends on synced, every restart must
read back the last synced save, and every always property must hold on
every state. The logs of a volume of several protection groups (--pgs) are
validated PG by PG, each PG's part of them on the one-PG model. The first
diverging event is printed.";

const TRACE_VALIDATE_AFTER_HELP: &str = "\
Examples:
  quorate run quorum --actors --dir /tmp/qa --rounds 5
  quorate trace validate /tmp/qa/round-3
  quorate trace validate /tmp/qa            # every round in it

Exit codes: 0 every round valid; 1 a round departs from the model; 2 an
unreadable directory, run.json or log line, or an unknown protocol,
config, parameter or mutant.";

const EXPLORE_LONG_ABOUT: &str = "\
Serve stateright's Explorer for one protocol config on loopback: open
the printed address in a browser to see the properties, step through
states one action at a time, and follow the discoveries (counterexamples
and witnesses) as its checker finds them. Stop it with Ctrl-C.";

const EXPLORE_AFTER_HELP: &str = "\
Examples:
  quorate explore global --config ci
  quorate explore quorum --mutant w3r3 --addr 127.0.0.1:8080

Exit codes: 2 bad usage or an address that cannot be listened on;
otherwise it runs until interrupted.";

const RUN_LONG_ABOUT: &str = "\
Run the reference implementation of PROTOCOL (quorum, failover, global or
backtrack) as a local cluster on loopback.

quorum: the model's own actors (every segment, the writer, the control
plane, the client: the handlers the checker composes) on the one runtime,
live, in rounds until --seconds are up. In a round every node is an OS
thread with its own UDP socket on 127.0.0.1 and its own log file in
DIR/round-K (fsync before any message that depends on a save leaves; what
was not synced is lost at a crash), timers fire on the wall clock with
jitter, and every datagram carries a CRC-32 seal. The volume has --pgs
protection groups (8 by default): node I hosts actor I of every PG (segment
slot I of each, the writer of each, ...), so a crash or a lost disk hits
every PG on the node at once. Every 10 ms every node is held still while
the fault table of the config (--config, --set: crashes, AZ outages, disk
losses, writer crashes, membership changes) draws a fault or a client
request on one PG's view, and now and then garbage (random bytes, datagrams
cut short or with a digit changed so that they still decode, datagrams that
name a node they do not come from) goes to a node, which must refuse it before
it handles anything. A round lasts --round-ms; its nodes are stopped and
every disk, unsynced bytes dropped, gives back what it holds. Then the
round's logs, per node, of what crossed the node's I/O boundary (receives,
timers, synced saves, released sends, what its disk gave back at each start
and at the end) are read back from their files and replayed on the actor
model (trace validation), each PG's part on its own: every input must be
one the model allows, every send one the model's handler emits, no send
released before its save synced, every restart reading the last synced
save, every always property (among them: every acknowledged commit is held
by enough segments for every read quorum) holding on every state. A line a
round goes to stderr. Nothing is scheduled, so a live round is not
repeatable from its seed: its logs are what is validated, and `quorate trace
validate DIR/round-K` validates a saved round again. Each protection group
holds the model's LSNs (the config's `lsns`), so a round acknowledges a few
commits per group: a volume of rounds, not a benchmark.

failover: every node an OS thread with its own UDP socket on its own timers:
six segment nodes with their log files in DIR (fsync before every reply),
the writer and a replica (each sending a heartbeat every 20 ms), the control
plane and the metadata service. The writer commits as fast as its segments
acknowledge; when its heartbeats stop for 250 ms (killed, or cut off: it goes
on as a zombie that fenced segments refuse) the control plane promotes the
replica, which recovers the volume at a new epoch and opens. Faults strike
at seeded random moments of the workload. Each round is one volume of the
model's size (8 LSNs) in DIR/round-N; at its end every segment is recovered
from its file alone (it must come back as it went down) and every safety
invariant of the failover model must hold on the end state with every
acknowledgement made. With --paced, the nodes are driven instead one model
event at a time on a seeded schedule (at least one step in 40 a fault),
every invariant checked after every event. Rounds repeat until the time is
up. DIR must be new or empty.

global: three regions, each two OS threads with their own UDP sockets on
their own timers (the region's node, its log file in DIR fsynced before
every reply; and its agent: the clients, who write a record every 80 ms and
wait for its acknowledgement, and the replication, which sends the primary
its lag report and applies the record it answers with), and the control
plane. The primary acknowledges a commit when the RPO gate lets it (some
secondary's lag report under 2 ticks of 200 ms). When the primary has been
silent for 250 ms (down, or cut off) the control plane fails over: it fences
the old primary on the storage control path, promotes the most caught-up
secondary at a new global epoch, rebuilds secondaries ahead of it, and lets
the old primary rejoin through its snapshot once it answers again. The
operator switches over (drain, MARKER, promote), sometimes cancelling, at
seeded random moments. Each round is one Global Database of the model's size
(six transactions) in DIR/round-N, verified as for failover. With --paced,
the regions are driven one model event at a time on a seeded schedule (one
step in 8 at least the clock, an operator command or a fault), every
invariant checked after every event.

backtrack: the engine as an OS thread with its own UDP socket and its log file
in DIR (fsync before every reply), and around it the client, two readers, the
clock (a tick every 50 ms) and the engine's rewinder, each a thread with its
own socket on its own timer. The client commits and takes each
acknowledgement from its connection, which a backtrack closes; the readers
follow the engine's redo stream; the operator backtracks at seeded random
ticks; a crash during a rewind restarts the engine from its file 20 to 80 ms
later. Each round is one cluster of the model's size in DIR/round-N; at its
end the engine is recovered from its file alone (it must come back as a
crash leaves it) and every safety invariant must hold on the end state. With
--paced, the cluster is driven one model event at a time on a seeded
schedule, every invariant checked after every event.

quorum --actors: the same actors, fault table and validation on the
deterministic configuration of the runtime: a seeded network that delivers
datagrams (each through the wire codec, behind its seal) in any order,
loses and duplicates them, and carries garbage now and then; disks that
lose unsynced bytes at a crash; a seeded schedule of deliveries, timers,
client requests and faults within the config's budgets, --steps a round,
--rounds rounds (20 by default), one PG unless --pgs says more. A round
repeats from its seed. With --live, --rounds live rounds instead.

quorum --replay TRACE: a counterexample (or scenario) carried out on the
implementation's nodes on the deterministic runtime, step by step, with the
trace's mutant (mutants live in the model's actors, which the nodes run).
The trace is first replayed on the model (as `quorate trace replay` does).
A trace of an actor preset (`quorate check quorum --config actors --mutant
read-below-scl --trace-out TRACE`): the nodes start and settle (each must then
be in the model's initial state), each step is done to the nodes it names (a
datagram delivered, a timer fired, a fault, a request), the runtime must then
have in flight what the model has, and its logs so far, written to DIR and
read back, are validated and must violate a property exactly where the model
does. A trace of any other preset (`quorate check quorum --config ci --mutant
w3r3 --trace-out TRACE`): each step is an input and the run-to-completion of
what it causes; every node must handle exactly the inputs the model's actor
handles, send exactly what it sends and end the step in its state, and the
nodes must violate the trace's property at the model's step (their logs are
written to DIR, not validated: such a step is not one order of datagrams).
Exit 0 when the implementation reaches the model's violation at the same
step (or, for a trace without one, takes every step, and for an actor trace
validates to the round's end); 1 when it departs, or when the trace is not a
run of the model or not what its `expect` says.";

const RUN_AFTER_HELP: &str = "\
quorum takes no --faults: its faults are the config's budgets (see
`quorate list`), e.g. --config disk, or --set crashes=2 --set disk_losses=1.

Faults of failover: failover (the writer crashes or is partitioned away, at
most twice a round), crash (a segment node stops; it restarts from its file),
az-outage, recovery-crash, replica-crash, garbage (random bytes to a node,
which must reject and count them).

Faults of global: outage (a region goes down and returns from its file),
partition (a region is cut off and heals), garbage.

Faults of backtrack: crash (the engine crashes during a rewind and restarts
from its file), pressure (history evicted early), garbage.

Examples:
  quorate run quorum --dir /tmp/vol --seconds 10
  quorate run quorum --dir /tmp/vol2 --config disk --pgs 16 --round-ms 500
  quorate trace validate /tmp/vol/round-3     # validate a saved round again
  quorate run failover --dir /tmp/fo --seconds 10 --faults failover,crash,garbage
  quorate run failover --paced --dir /tmp/fo2 --faults failover,crash,az-outage
  quorate run global --dir /tmp/gl --seconds 10 --faults outage,partition,garbage
  quorate run global --paced --dir /tmp/gl2 --faults outage,partition
  quorate run backtrack --dir /tmp/bt --seconds 10 --faults crash,pressure,garbage
  quorate run backtrack --paced --dir /tmp/bt2 --faults crash,pressure
  quorate run quorum --actors --dir /tmp/qa --rounds 50
  quorate run quorum --actors --dir /tmp/qa2 --config ci --set crashes=2 --mutant read-below-scl
  quorate run quorum --actors --live --dir /tmp/ql --rounds 10 --round-ms 500
  quorate check quorum --config actors --mutant read-below-scl --trace-out t.json
  quorate run quorum --replay t.json --dir /tmp/qr

Exit codes: 0 every round good (quorum: every round's logs replayed on the
model; failover, global, backtrack: every round's nodes recovered as they
went down and every invariant held); 1 a round that departs from the model
(the seed and the command that repeats it first, then the first diverging
event) or an invariant broken; 2 bad usage (unknown protocol, fault, config
or mutant, unusable DIR).";

/// `quorate`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "quorate",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List protocols, configs, parameters, properties and mutants.
    #[command(after_help = "Examples:\n  quorate list\n  quorate list --format json")]
    List(ListArgs),
    /// Check a protocol exhaustively; shows shortest counterexamples.
    #[command(long_about = CHECK_LONG_ABOUT, after_help = CHECK_AFTER_HELP)]
    Check(CheckArgs),
    /// Run the check suite and compare with the expected outcomes.
    #[command(long_about = SUITE_LONG_ABOUT, after_help = SUITE_AFTER_HELP)]
    Suite(SuiteArgs),
    /// Show or replay a trace file (a counterexample or a scenario).
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Serve stateright's Explorer for a protocol in the browser.
    #[command(long_about = EXPLORE_LONG_ABOUT, after_help = EXPLORE_AFTER_HELP)]
    Explore(ExploreArgs),
    /// Run the implementation as a cluster on loopback, with faults.
    #[command(long_about = RUN_LONG_ABOUT, after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
}

/// `quorate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The protocol: quorum, failover, global or backtrack.
    #[arg(value_name = "PROTOCOL")]
    pub protocol: String,
    /// The data directory: created if missing; it must be new or empty (each round of quorum
    /// writes its logs in DIR/round-K).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// How long the workload runs, in seconds (quorum: rounds start until it is up; more
    /// than 0).
    #[arg(long, value_name = "N", default_value_t = 10.0)]
    pub seconds: f64,
    /// failover, global, backtrack: faults to inject, comma-separated (see below). quorum
    /// draws its faults from its config's budgets (--config, --set).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Seed of the fault schedule (printed first).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// failover, global, backtrack: drive the nodes one model event at a time, every
    /// invariant checked after each, instead of letting them run on their own timers.
    #[arg(long)]
    pub paced: bool,
    /// quorum: run the rounds on the deterministic runtime (a seeded schedule; each round
    /// repeats from its seed) instead of live; with --live, live rounds counted by --rounds.
    #[arg(long, conflicts_with_all = ["paced", "faults", "seconds"])]
    pub actors: bool,
    /// quorum: how many rounds (seeds SEED, SEED+1, ...) [default: as many as --seconds
    /// allows; 20 with --actors].
    #[arg(long, value_name = "N")]
    pub rounds: Option<u64>,
    /// quorum --actors: scheduled steps per round at most (a delivery, a timer, a fault, a
    /// request) [default: 2000].
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Not taken any more (quorum's writer allocates on its own timer); refused with a word
    /// on why.
    #[arg(long, value_name = "N", hide = true)]
    pub inflight: Option<String>,
    /// quorum: the config preset whose parameters and fault budgets the rounds use
    /// [default: deep].
    #[arg(long, value_name = "NAME")]
    pub config: Option<String>,
    /// quorum: override a parameter, e.g. crashes=2.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// quorum: plant a bug in the model's actors (see quorate list); the runtime runs it.
    #[arg(long, value_name = "NAME")]
    pub mutant: Option<String>,
    /// quorum --actors: run the rounds live (each actor on its own thread with a UDP socket
    /// on loopback and a log file synced with fsync, timers on the wall clock), as quorum
    /// does without --actors; a round is not repeatable from its seed, and its logs say what
    /// happened.
    #[arg(long)]
    pub live: bool,
    /// quorum: carry out a trace of an actor preset (a counterexample from `quorate check
    /// quorum --config actors ... --trace-out FILE`, or a scenario) on the model's actors on
    /// the deterministic runtime, step by step, validating the runtime's logs after each.
    #[arg(
        long,
        value_name = "TRACE",
        conflicts_with_all = [
            "actors", "paced", "faults", "seconds", "config", "sets", "mutant",
            "rounds", "steps", "live", "seed", "pgs", "round_ms"
        ]
    )]
    pub replay: Option<PathBuf>,
    /// quorum, live rounds: how long each round runs, in milliseconds [default: 300].
    #[arg(long, value_name = "MS")]
    pub round_ms: Option<u64>,
    /// quorum: how many protection groups the volume has (1 to 64); every node hosts its
    /// role's instance of each, and each PG's part of the logs is validated on its own
    /// [default: 8; 1 with --actors].
    #[arg(long, value_name = "N")]
    pub pgs: Option<u16>,
}

/// `quorate trace ...`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Show a trace as text, a Mermaid sequence diagram or ITF JSON.
    #[command(long_about = TRACE_SHOW_LONG_ABOUT, after_help = TRACE_SHOW_AFTER_HELP)]
    Show(TraceShowArgs),
    /// Check a trace step by step against the model.
    #[command(long_about = TRACE_REPLAY_LONG_ABOUT, after_help = TRACE_REPLAY_AFTER_HELP)]
    Replay(TraceReplayArgs),
    /// Validate a run's per-node logs against the actor model.
    #[command(long_about = TRACE_VALIDATE_LONG_ABOUT, after_help = TRACE_VALIDATE_AFTER_HELP)]
    Validate(TraceValidateArgs),
}

/// `quorate trace validate`.
#[derive(Debug, Args)]
pub struct TraceValidateArgs {
    /// A round's directory (run.json and node-I.jsonl), or a run's (its round-K directories).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// How `trace show` renders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// Numbered steps and what each changed.
    #[default]
    Text,
    /// A Mermaid sequence diagram.
    Mermaid,
    /// The Informal Trace Format of Apalache and Quint.
    Itf,
}

/// `quorate trace show`.
#[derive(Debug, Args)]
pub struct TraceShowArgs {
    /// The trace file (JSON, specs/trace-format.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Output: text, mermaid or itf [default: text].
    #[arg(
        long,
        value_enum,
        default_value_t = ShowFormat::Text,
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: ShowFormat,
}

/// `quorate trace replay`.
#[derive(Debug, Args)]
pub struct TraceReplayArgs {
    /// The trace file (JSON, specs/trace-format.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `quorate explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The protocol, e.g. global.
    #[arg(value_name = "PROTOCOL", long_help = PROTOCOL_HELP)]
    pub protocol: String,
    /// Config preset (see quorate list).
    #[arg(long, value_name = "NAME", long_help = CONFIG_HELP)]
    pub config: Option<String>,
    /// Override a parameter, e.g. regions=3.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set, long_help = SET_HELP)]
    pub sets: Vec<(String, String)>,
    /// Plant a deliberate bug (see quorate list).
    #[arg(long, value_name = "NAME", long_help = MUTANT_HELP)]
    pub mutant: Option<String>,
    /// Where to listen: loopback only unless you say otherwise.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3000")]
    pub addr: std::net::SocketAddr,
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: tables and numbered traces.
    #[default]
    Text,
    /// For tools: one JSON object on stdout and nothing else.
    Json,
}

/// Search order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Breadth-first, level by level.
    #[default]
    Bfs,
    /// Depth-first, with counterexamples shortened afterwards.
    Dfs,
}

/// `quorate list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output: text or json [default: text].
    #[arg(
        long,
        value_enum,
        default_value_t = Format::Text,
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub format: Format,
}

/// `quorate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The protocol to check, e.g. quorum.
    #[arg(
        value_name = "PROTOCOL",
        long_help = PROTOCOL_HELP
    )]
    pub protocol: String,

    /// Config preset (see quorate list).
    #[arg(
        long,
        value_name = "NAME",
        long_help = CONFIG_HELP
    )]
    pub config: Option<String>,

    /// Override a parameter, e.g. write_quorum=3.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set, long_help = SET_HELP)]
    pub sets: Vec<(String, String)>,

    /// Plant a deliberate bug (see quorate list).
    #[arg(
        long,
        value_name = "NAME",
        long_help = MUTANT_HELP
    )]
    pub mutant: Option<String>,

    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N", value_parser = parse_threads,
        allow_negative_numbers = true, long_help = THREADS_HELP)]
    pub threads: Option<u32>,

    /// Search order: bfs or dfs [default: bfs].
    #[arg(
        long,
        value_enum,
        default_value_t = StrategyArg::Bfs,
        hide_default_value = true,
        hide_possible_values = true,
        long_help = STRATEGY_HELP
    )]
    pub strategy: StrategyArg,

    /// Output: text or json [default: text].
    #[arg(
        long,
        value_enum,
        default_value_t = Format::Text,
        hide_default_value = true,
        hide_possible_values = true,
        long_help = FORMAT_HELP
    )]
    pub format: Format,

    /// Stop (incomplete) after N unique states.
    #[arg(long, value_name = "N", value_parser = parse_max_states,
        allow_negative_numbers = true, long_help = MAX_STATES_HELP)]
    pub max_states: Option<u64>,

    /// Stop (incomplete) after S seconds.
    #[arg(long, value_name = "S", value_parser = parse_seconds,
        allow_negative_numbers = true, long_help = MAX_SECONDS_HELP)]
    pub max_seconds: Option<f64>,

    /// Stop at SIZE of memory [default: 90% of available].
    #[arg(long, value_name = "SIZE", value_parser = parse_memory, long_help = MAX_MEMORY_HELP)]
    pub max_memory: Option<MemoryLimit>,

    /// Also print the witness traces.
    #[arg(
        long,
        long_help = WITNESSES_HELP
    )]
    pub witnesses: bool,

    /// Explore everything even after a violation.
    #[arg(long, long_help = KEEP_GOING_HELP)]
    pub keep_going: bool,

    /// Write the counterexample as a JSON trace file.
    #[arg(long, value_name = "FILE", long_help = TRACE_OUT_HELP)]
    pub trace_out: Option<PathBuf>,

    /// With --trace-out: the property whose trace to write.
    #[arg(long, value_name = "PROPERTY", requires = "trace_out", long_help = TRACE_OF_HELP)]
    pub trace_of: Option<String>,
}

/// `quorate suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Suite file [default: checks/suite.toml].
    #[arg(
        value_name = "FILE",
        default_value = "checks/suite.toml",
        hide_default_value = true,
        long_help = FILE_HELP
    )]
    pub file: PathBuf,

    /// Worker threads per check [default: all cores].
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<u32>,

    /// Run only this protocol's entries.
    #[arg(long, value_name = "PROTOCOL")]
    pub only: Option<String>,

    /// Also run the full tier (entries marked tier = "full").
    #[arg(long, long_help = FULL_HELP)]
    pub full: bool,

    /// Also write JUnit XML (one testcase per entry).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// `KEY=VALUE` with a non-empty key; the protocol judges whether the key and value make sense.
pub fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.trim().to_string()))
        }
        _ => Err("expected KEY=VALUE, e.g. --set write_quorum=3".to_string()),
    }
}

fn parse_threads(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of threads, at least 1".to_string()),
    }
}

fn parse_max_states(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of states, at least 1, e.g. 1000000".to_string()),
    }
}

/// A `--max-memory` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryLimit {
    /// No limit.
    Unlimited,
    /// Stop at this many bytes.
    Bytes(u64),
}

fn parse_memory(s: &str) -> Result<MemoryLimit, String> {
    let bad = || format!("expected a size such as 8G, 500M or 2048K, or 'none'; got '{s}'");
    if matches!(s, "none" | "off" | "unlimited") {
        return Ok(MemoryLimit::Unlimited);
    }
    let t = s.trim();
    let (digits, unit) = match t
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit() && *c != '.')
    {
        Some((i, _)) => (&t[..i], t[i..].trim_end_matches(['B', 'b', 'i'])),
        None => (t, ""),
    };
    let scale: f64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    match digits.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(MemoryLimit::Bytes((v * scale) as u64)),
        _ => Err(bad()),
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a positive number of seconds, e.g. 90 or 0.5".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn set_syntax() {
        assert_eq!(parse_set("a=1"), Ok(("a".into(), "1".into())));
        assert_eq!(parse_set("a="), Ok(("a".into(), "".into())));
        assert!(parse_set("a").is_err());
        assert!(parse_set("=1").is_err());
    }

    #[test]
    fn seconds_syntax() {
        assert_eq!(parse_seconds("0.5"), Ok(0.5));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("inf").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
