//! The media clock: threads that send every session's 20 ms packets.
//!
//! Each session keeps its own drift-free [`Pacer`]; the clock decides only
//! *who* runs each tick and *when*. Tokio timers have a 1 ms resolution and
//! a woken task waits behind every other ready task, so with a few thousand
//! calls per-call timers drift several milliseconds late under load. The
//! clock instead sleeps on the OS timer to the next millisecond of a fixed
//! grid and ticks every session due then, back to back, from a plain thread
//! the scheduler wakes promptly. There is one clock thread per core (at most
//! [`MAX_THREADS`]), each with its own wheel; sessions are dealt to them in
//! turn.
//!
//! # The wheel
//! A session's pacer starts on a grid millisecond, so all its deadlines fall
//! in one of 20 slots (its start millisecond modulo 20). A new session goes
//! to the slot with the fewest sessions, so that every millisecond carries
//! the same work however regularly calls arrive. At grid millisecond `g` the
//! clock visits one slot only, the one whose deadlines fall [`LEAD`] later:
//! about 1/20 of the sessions, each sent 1 ms ahead of its time. A packet
//! counts as on time within 2 ms of its deadline either way, so the lead
//! turns 2 ms of tolerated lateness into 3 ms. When the thread itself wakes
//! late it visits the slots it missed (each at most once), and each
//! session's pacer applies its catch-up and skip policy, so a stall never
//! causes a long burst.
//!
//! # Helping
//! A thread can be held up in the middle of its work: the hypervisor takes
//! its virtual CPU, or kernel work runs on its core that a kernel without
//! preemption does not interrupt. All its sessions would wait with it. So the
//! wheels are shared: a thread claims each grid millisecond of a wheel by
//! moving the wheel's next millisecond past it (compare-and-swap) and locks
//! only the slot it visits; after its own work, a thread does the due work
//! of any other wheel that is [`HELP_AFTER`] milliseconds behind. The slot
//! the held-up thread is in stays with it (it is locked); the rest go out on
//! time. In the usual case each thread claims only its own milliseconds and
//! takes only uncontended locks.
//!
//! # Priority
//! The thread asks the kernel for real-time round-robin scheduling (priority
//! 10, as media servers run their timing threads) and a 1 µs timer slack; where
//! that is not permitted it asks for nice −10, and else runs as it is. It
//! sleeps almost all the time, so it cannot starve the rest of the system.
//!
//! # Memory
//! The process asks the kernel for no transparent huge pages (see
//! [`os::disable_huge_pages`](crate::os::disable_huge_pages)): merging them is kernel work that, on a kernel
//! without preemption, keeps a real-time thread off its core for
//! milliseconds.
//!
//! # Never waiting for a call task
//! A call task locks its session's state briefly to change what it plays. The
//! clock only *tries* the lock: when a task holds it (say, a task thread was
//! preempted in the middle), that one session is set aside and visited again
//! on the next grid millisecond, instead of the whole thread, and every session
//! after it in the slot, waiting for the task thread to be scheduled again.
//!
//! Sessions are held weakly: a session whose task has ended (or which says
//! it is closed) is dropped from its slot at its next visit. With no
//! session at all the thread blocks until one registers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::pacer::{PTIME, Pacer, Tick};

/// The grid step: every deadline the clock serves falls on a whole step.
const GRID: Duration = Duration::from_millis(1);
/// Slots in the wheel: one per grid millisecond of a packet period.
const SLOTS: u64 = (PTIME.as_millis() / GRID.as_millis()) as u64;
/// How far ahead of its deadline a packet is sent when the clock is on time:
/// one grid step, so that a packet is sent within 2 ms either side of its time
/// (what "on time" means for RTP here) even when the thread wakes up to 3 ms
/// late. A constant lead moves no packet against the others: the receiver
/// sees the same spacing, 1 ms earlier.
const LEAD: Duration = GRID;
/// [`LEAD`] in grid steps.
const LEAD_STEPS: u64 = (LEAD.as_nanos() / GRID.as_nanos()) as u64;

/// What the clock ticks: something with a pacer that acts on each tick.
pub(crate) trait Paced: Send {
    /// The session's pacer (the clock restarts it on the grid when it takes
    /// the session on, then only reads due ticks from it).
    fn pacer(&mut self) -> &mut Pacer;
    /// Whether the session has ended (the clock then forgets it).
    fn is_closed(&self) -> bool;
    /// Reads what arrived since the last visit (before the due ticks run).
    fn receive(&mut self);
    /// One tick: build and send a packet.
    fn on_tick(&mut self, tick: Tick);
}

/// A session as the clock holds it.
type Entry = Weak<Mutex<dyn Paced>>;

/// Most clock threads.
pub(crate) const MAX_THREADS: usize = 4;

/// How the clock threads keep time, for `/metrics` and load tests: how often
/// they woke, how often later than [`LATE`], and how often one grid
/// millisecond's visits took longer than [`LATE`] themselves.
#[derive(Debug, Default)]
struct Timekeeping {
    wakes: AtomicU64,
    late_wakes: AtomicU64,
    long_visits: AtomicU64,
    helped: AtomicU64,
    max_wake_late_us: AtomicU64,
    max_visit_us: AtomicU64,
}

/// A wake-up or a millisecond's work beyond this puts ticks at risk.
const LATE: Duration = Duration::from_millis(1);

static TIMEKEEPING: Timekeeping = Timekeeping {
    wakes: AtomicU64::new(0),
    late_wakes: AtomicU64::new(0),
    long_visits: AtomicU64::new(0),
    helped: AtomicU64::new(0),
    max_wake_late_us: AtomicU64::new(0),
    max_visit_us: AtomicU64::new(0),
};

/// A snapshot of the clock threads' time keeping since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockStats {
    /// Grid milliseconds the threads woke for (with sessions to tick).
    pub wakes: u64,
    /// Wake-ups more than 1 ms after the grid millisecond.
    pub late_wakes: u64,
    /// Grid milliseconds whose visits took more than 1 ms.
    pub long_visits: u64,
    /// Times a clock thread did the overdue work of another that was held up.
    pub helped: u64,
    /// Latest wake-up seen, in microseconds after its grid millisecond.
    pub max_wake_late_us: u64,
    /// Longest visit of one wake-up, in microseconds.
    pub max_visit_us: u64,
}

/// The clock threads' time keeping so far.
pub fn clock_stats() -> ClockStats {
    let t = &TIMEKEEPING;
    ClockStats {
        wakes: t.wakes.load(Ordering::Relaxed),
        late_wakes: t.late_wakes.load(Ordering::Relaxed),
        long_visits: t.long_visits.load(Ordering::Relaxed),
        helped: t.helped.load(Ordering::Relaxed),
        max_wake_late_us: t.max_wake_late_us.load(Ordering::Relaxed),
        max_visit_us: t.max_visit_us.load(Ordering::Relaxed),
    }
}

impl Timekeeping {
    /// Counts one wake-up `late` after its grid millisecond whose visits
    /// took `spent`.
    fn record(&self, late: Duration, spent: Duration) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        if late > LATE {
            self.late_wakes.fetch_add(1, Ordering::Relaxed);
        }
        if spent > LATE {
            self.long_visits.fetch_add(1, Ordering::Relaxed);
        }
        self.max_wake_late_us
            .fetch_max(late.as_micros() as u64, Ordering::Relaxed);
        self.max_visit_us
            .fetch_max(spent.as_micros() as u64, Ordering::Relaxed);
    }
}

/// The running clock threads: where new sessions are sent.
struct TickThreads {
    threads: Vec<Mutex<Sender<Entry>>>,
    next: AtomicUsize,
}

static TICK_THREADS: OnceLock<TickThreads> = OnceLock::new();

/// One clock thread's sessions, shared with the other clock threads so that
/// one can do another's overdue work (see "Helping" in the module docs).
struct Wheel {
    /// The sessions of each slot.
    slots: Vec<Mutex<Vec<Entry>>>,
    /// The next grid millisecond to visit: a thread claims a millisecond by
    /// moving this past it, so each is visited by one thread only.
    next: AtomicU64,
    /// Sessions in the slots (some may have ended since their last visit).
    sessions: AtomicUsize,
}

impl Wheel {
    fn new() -> Self {
        Wheel {
            slots: (0..SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
            next: AtomicU64::new(1),
            sessions: AtomicUsize::new(0),
        }
    }

    /// Locks one slot (a slot is never left inconsistent, so a poisoned lock
    /// is used as it is).
    fn slot(&self, g: u64) -> MutexGuard<'_, Vec<Entry>> {
        self.slots[(g % SLOTS) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Claims and visits every grid millisecond of this wheel that is due at
    /// `now`, each slot at most once (a stall longer than a period is caught
    /// up by the pacers, not by repeated visits), setting aside in `busy` the
    /// sessions whose task held them.
    fn catch_up(&self, epoch: Instant, now: Instant, busy: &mut Vec<Entry>) {
        let last = grid_index(epoch, now);
        loop {
            let g = self.next.load(Ordering::Acquire);
            if g > last {
                return;
            }
            let target = g.max(last.saturating_sub(SLOTS - 1));
            if self
                .next
                .compare_exchange(g, target + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            // A thread held up in the middle of this slot a period ago still
            // holds it; its sessions wait for that thread either way.
            let Some(mut slot) = try_lock(&self.slots[(target % SLOTS) as usize]) else {
                continue;
            };
            let dropped = visit(&mut slot, busy);
            self.sessions.fetch_sub(dropped, Ordering::Relaxed);
        }
    }

    /// Whether the wheel has sessions and is at least [`HELP_AFTER`] behind
    /// at `now`: its thread is held up (a core taken by the hypervisor or by
    /// kernel work that cannot be preempted).
    fn is_held_up(&self, epoch: Instant, now: Instant) -> bool {
        self.sessions.load(Ordering::Relaxed) > 0
            && self.next.load(Ordering::Acquire) + HELP_AFTER <= grid_index(epoch, now)
    }
}

/// How many grid milliseconds behind a wheel must be before another clock
/// thread does its work: with the [`LEAD`], packets due that far back can
/// still go out on time.
const HELP_AFTER: u64 = 2;

/// Hands a session to one of the process's media clock threads (started on
/// first use); its first tick is on that thread's next grid millisecond.
pub(crate) fn register<P: Paced + 'static>(session: Arc<Mutex<P>>) {
    let clock = TICK_THREADS.get_or_init(|| {
        let huge_pages_off = crate::os::disable_huge_pages();
        tracing::info!(
            huge_pages_off,
            "media clock: asked for no transparent huge pages"
        );
        let n = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_THREADS);
        let wheels: Arc<[Wheel]> = (0..n).map(|_| Wheel::new()).collect();
        let epoch = Instant::now();
        // A thread the system refuses (no memory, a thread limit) is logged and
        // left out: the others carry every session.
        let threads = (0..n)
            .filter_map(|i| {
                let (tx, rx) = std::sync::mpsc::channel();
                let wheels = wheels.clone();
                match std::thread::Builder::new()
                    .name(format!("dialect-media-clock-{i}"))
                    .spawn(move || run(rx, &wheels, i, epoch))
                {
                    Ok(_) => Some(Mutex::new(tx)),
                    Err(e) => {
                        tracing::error!("media clock thread {i} could not start: {e}");
                        None
                    }
                }
            })
            .collect();
        TickThreads {
            threads,
            next: AtomicUsize::new(0),
        }
    });
    let weak: Weak<Mutex<P>> = Arc::downgrade(&session);
    let entry: Entry = weak;
    if clock.threads.is_empty() {
        tracing::error!("no media clock thread is running: the session sends and receives nothing");
        return;
    }
    let i = clock.next.fetch_add(1, Ordering::Relaxed) % clock.threads.len();
    let sender = clock.threads[i].lock().unwrap_or_else(|e| e.into_inner());
    // The thread never ends while the sender exists, so this cannot fail.
    let _ = sender.send(entry);
}

/// Clock thread `me`: sleeps to each grid millisecond and ticks its wheel's
/// slot, then does the overdue work of any other wheel that is held up.
fn run(registrations: Receiver<Entry>, wheels: &[Wheel], me: usize, epoch: Instant) {
    let priority = crate::os::raise_priority();
    tracing::info!(priority, "media clock started");
    let wheel = &wheels[me];
    // Sessions whose state was locked by their call task when visited.
    let mut busy: Vec<Entry> = Vec::new();
    // New sessions not on the wheel yet (their task held them when they came).
    let mut joining: Vec<Entry> = Vec::new();
    loop {
        if wheel.sessions.load(Ordering::Relaxed) == 0 && joining.is_empty() && busy.is_empty() {
            // Idle: wait for a session, then start from the present.
            let Ok(entry) = registrations.recv() else {
                return;
            };
            wheel
                .next
                .store(grid_index(epoch, Instant::now()) + 1, Ordering::Release);
            joining.push(entry);
        }
        loop {
            match registrations.try_recv() {
                Ok(entry) => joining.push(entry),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let next = wheel.next.load(Ordering::Acquire);
        joining.retain(|entry| match take_on(wheel, epoch, next, entry) {
            Visit::Ticked => {
                wheel.sessions.fetch_add(1, Ordering::Relaxed);
                false
            }
            Visit::Busy => true,
            Visit::Ended => false,
        });
        let due = grid_time(epoch, next);
        let now = Instant::now();
        if now < due {
            std::thread::sleep(due - now);
            continue;
        }
        // Sessions that were busy at their last visit come first: they are
        // already late.
        retry(&mut busy);
        wheel.catch_up(epoch, now, &mut busy);
        for (i, other) in wheels.iter().enumerate() {
            let at = Instant::now();
            if i != me && other.is_held_up(epoch, at) {
                other.catch_up(epoch, at, &mut busy);
                TIMEKEEPING.helped.fetch_add(1, Ordering::Relaxed);
            }
        }
        TIMEKEEPING.record(now - due, now.elapsed());
    }
}

/// When grid millisecond `g` begins (in nanoseconds: a `u32` count of
/// milliseconds would wrap after 49 days of uptime, and the clock would
/// then never sleep again).
fn grid_time(epoch: Instant, g: u64) -> Instant {
    epoch + Duration::from_nanos(g.saturating_mul(GRID.as_nanos() as u64))
}

/// The grid millisecond `at` falls in.
fn grid_index(epoch: Instant, at: Instant) -> u64 {
    (at.saturating_duration_since(epoch).as_nanos() / GRID.as_nanos()) as u64
}

/// Puts a new session in the emptiest slot, to be visited first on that
/// slot's first grid millisecond from `next` on, and starts its pacer
/// [`LEAD`] after that (`Ticked`), unless its task holds it (`Busy`: try
/// again) or it has already ended.
fn take_on(wheel: &Wheel, epoch: Instant, next: u64, entry: &Entry) -> Visit {
    with_session(entry, |s| {
        let sizes: [usize; SLOTS as usize] = std::array::from_fn(|i| wheel.slot(i as u64).len());
        let g = emptiest_slot_from(&sizes, next);
        *s.pacer() = Pacer::new(grid_time(epoch, g + LEAD_STEPS), PTIME);
        wheel.slot(g).push(entry.clone());
        Visit::Ticked
    })
}

/// The first grid millisecond from `next` on whose slot holds the fewest
/// sessions (the soonest of equally full ones), given each slot's size.
///
/// Taking a new session on in the slot of the millisecond it arrives in is
/// not enough: calls that arrive at a steady rate (a load generator, a dialer,
/// a queue releasing calls) arrive on a few slots only; with a new call every
/// 10 ms on a clock thread, half of that thread's sessions would fall in slot
/// 0 and half in slot 10, and those two milliseconds of every 20 would carry
/// all the work. Choosing the emptiest slot keeps every millisecond's work
/// the same, at the cost of starting a call's audio up to 19 ms later.
fn emptiest_slot_from(sizes: &[usize], next: u64) -> u64 {
    (next..next + SLOTS)
        .min_by_key(|g| sizes[(g % SLOTS) as usize])
        .unwrap_or(next)
}

/// Runs `f` on the session unless it has ended (`Ended`) or its call task
/// holds it right now (`Busy`): the clock never waits for a call task, since a
/// task thread preempted while it holds the lock would otherwise hold up every
/// session behind this one.
fn with_session(entry: &Entry, f: impl FnOnce(&mut dyn Paced) -> Visit) -> Visit {
    let Some(session) = entry.upgrade() else {
        return Visit::Ended;
    };
    let Some(mut s) = try_lock(&session) else {
        return Visit::Busy;
    };
    f(&mut *s)
}

/// Locks `m` unless another thread holds it now (a poisoned lock is used as it
/// is: neither a session nor a slot is left inconsistent by a panic).
fn try_lock<T: ?Sized>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// What a visit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    /// The session received and sent what was due.
    Ticked,
    /// Its call task held the state: try again on the next grid millisecond.
    Busy,
    /// The session has ended.
    Ended,
}

/// Receives and sends what is due for one session (see [`with_session`]).
fn tick_session(entry: &Entry) -> Visit {
    with_session(entry, |s| {
        if s.is_closed() {
            return Visit::Ended;
        }
        s.receive();
        while let Some(t) = s.pacer().take_due_ahead(Instant::now(), LEAD) {
            s.on_tick(t);
        }
        Visit::Ticked
    })
}

/// Ticks every session of a slot that is due, setting aside in `busy` those
/// whose task held them; returns how many sessions were dropped because they
/// ended.
fn visit(slot: &mut Vec<Entry>, busy: &mut Vec<Entry>) -> usize {
    let mut dropped = 0;
    let mut i = 0;
    while i < slot.len() {
        match tick_session(&slot[i]) {
            Visit::Ticked => i += 1,
            Visit::Busy => {
                busy.push(slot[i].clone());
                i += 1;
            }
            Visit::Ended => {
                slot.swap_remove(i);
                dropped += 1;
            }
        }
    }
    dropped
}

/// Visits again the sessions that were busy; keeps those that still are. (An
/// ended one stays in its slot, which drops it.)
fn retry(busy: &mut Vec<Entry>) {
    busy.retain(|entry| tick_session(entry) == Visit::Busy);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records when each tick ran.
    struct Probe {
        pacer: Pacer,
        ticks: Vec<(Tick, Instant)>,
        closed: bool,
        /// Once set, the next tick holds up the clock thread this long.
        stall: Option<Duration>,
    }

    impl Paced for Probe {
        fn pacer(&mut self) -> &mut Pacer {
            &mut self.pacer
        }
        fn is_closed(&self) -> bool {
            self.closed
        }
        fn on_tick(&mut self, tick: Tick) {
            self.ticks.push((tick, Instant::now()));
            if let Some(stall) = self.stall.take() {
                std::thread::sleep(stall);
            }
        }
        fn receive(&mut self) {}
    }

    fn probe() -> Arc<Mutex<Probe>> {
        Arc::new(Mutex::new(Probe {
            pacer: Pacer::new(Instant::now(), PTIME),
            ticks: Vec::new(),
            closed: false,
            stall: None,
        }))
    }

    /// How many ticks a probe had after `start`, and the longest gap
    /// between two of them.
    fn ticks_since(p: &Mutex<Probe>, start: Instant) -> (usize, Duration) {
        let p = p.lock().unwrap();
        let during: Vec<Instant> = p
            .ticks
            .iter()
            .map(|(_, at)| *at)
            .filter(|at| *at > start)
            .collect();
        let longest = during
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        (during.len(), longest)
    }

    #[test]
    fn sessions_tick_every_period_on_their_own_grid() {
        let probes: Vec<_> = (0..30).map(|_| probe()).collect();
        for p in &probes {
            register(p.clone());
            std::thread::sleep(Duration::from_micros(300));
        }
        std::thread::sleep(Duration::from_millis(250));
        for p in &probes {
            let p = p.lock().unwrap();
            // About 12 ticks in 250 ms; a loaded test machine may skip some,
            // but every tick is numbered on the session's own 20 ms grid.
            assert!(p.ticks.len() >= 5, "only {} ticks", p.ticks.len());
            for w in p.ticks.windows(2) {
                let (a, b) = (w[0].0, w[1].0);
                assert_eq!(b.index, a.index + 1 + b.skipped);
            }
            for (t, at) in &p.ticks {
                let deadline = p.pacer.deadline(t.index);
                assert!(
                    *at + LEAD >= deadline,
                    "tick {} ran more than the lead before its deadline",
                    t.index
                );
            }
        }
    }

    #[test]
    fn a_session_held_by_its_task_does_not_hold_up_the_others() {
        let probes: Vec<_> = (0..8).map(|_| probe()).collect();
        for p in &probes {
            register(p.clone());
        }
        std::thread::sleep(Duration::from_millis(60));
        // Every clock thread has some of these; hold one session's lock long.
        let held = probes[0].lock().unwrap();
        let before = held.ticks.len();
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(400));
        drop(held);
        std::thread::sleep(Duration::from_millis(100));
        for p in &probes[1..] {
            // The others kept ticking through the 400 ms (no gap near its length).
            let (ticks, longest) = ticks_since(p, start);
            assert!(ticks >= 8, "only {ticks} ticks");
            assert!(longest < Duration::from_millis(250), "a gap of {longest:?}");
        }
        // The held one was caught up once released.
        assert!(probes[0].lock().unwrap().ticks.len() > before);
    }

    #[test]
    fn sessions_arriving_at_a_steady_rate_fill_every_slot_alike() {
        let mut sizes = vec![0usize; SLOTS as usize];
        // A new session every 10 ms would fall in two slots of twenty if each
        // went to the slot of the millisecond it arrived in.
        for n in 0..200u64 {
            let next = 1 + 10 * n;
            let g = emptiest_slot_from(&sizes, next);
            assert!((next..next + SLOTS).contains(&g), "starts within a period");
            sizes[(g % SLOTS) as usize] += 1;
        }
        assert_eq!(sizes, vec![10; SLOTS as usize]);
        // Among equally full slots the soonest is taken.
        assert_eq!(emptiest_slot_from(&sizes, 37), 37);
    }

    #[test]
    fn another_clock_thread_does_the_work_of_one_held_up() {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            return; // one clock thread: nobody to help
        }
        let stalling = probe();
        register(stalling.clone());
        let probes: Vec<_> = (0..12).map(|_| probe()).collect();
        for p in &probes {
            register(p.clone());
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(100));
        // Its next tick keeps its clock thread busy for 250 ms.
        stalling.lock().unwrap().stall = Some(Duration::from_millis(250));
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(450));
        // The sessions that thread had were ticked by the other one meanwhile
        // (without help about half of them would have a gap of 250 ms; one
        // that shares the stalling session's slot may still wait for it).
        let kept_time = probes
            .iter()
            .filter(|p| {
                let (ticks, longest) = ticks_since(p, start);
                ticks >= 12 && longest < Duration::from_millis(150)
            })
            .count();
        assert!(kept_time >= 10, "only {kept_time} of 12 kept time");
        assert!(clock_stats().helped > 0);
    }

    #[test]
    fn ended_sessions_are_dropped() {
        let kept = probe();
        let closed = probe();
        let dropped = probe();
        register(kept.clone());
        register(closed.clone());
        register(dropped.clone());
        std::thread::sleep(Duration::from_millis(60));
        closed.lock().unwrap().closed = true;
        let weak = Arc::downgrade(&dropped);
        drop(dropped);
        assert!(weak.upgrade().is_none(), "the clock holds sessions weakly");
        let closed_ticks = closed.lock().unwrap().ticks.len();
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(closed.lock().unwrap().ticks.len(), closed_ticks);
        assert!(kept.lock().unwrap().ticks.len() > closed_ticks);
    }
}
