//! `RtpSession`: the media of one call leg.
//!
//! A session owns a UDP socket (from the [`PortAllocator`]). Its tokio task
//! carries out the call's commands; one of the process's media clock threads (see
//! `clock`) ticks it every 20 ms on its own drift-free [`Pacer`]: it reads
//! the packets that arrived since the last tick, then sends one packet made
//! from what is playing:
//! the prompt queue, else the music-on-hold loop, else silence, mixed with
//! audio linked in from other sessions (bridge, whisper) and in-band DTMF
//! being sent; or an RFC 4733 event packet while a digit is being sent that
//! way. Received packets are decoded and fed to the RFC 4733 receiver, the
//! in-band detector, the active recording and linked sessions. What the call
//! needs to know comes back as [`MediaEvent`]s on a channel.
//!
//! The call task controls the session through a [`SessionHandle`] (cheap to
//! clone; every method returns at once). Dropping the [`RtpSession`] or
//! calling [`SessionHandle::close`] ends the task and frees the port.
//!
//! # Per packet
//! Buffers live in the task and are reused; when only a prompt plays, the
//! pre-encoded bytes of the prompt are copied straight into the packet (no
//! encoding at all). Nothing on the packet path allocates.
//!
//! Why this file stays long: the session task's per-packet path (receive,
//! latch, decode, detect, play, record, send) is one loop over one state, kept
//! together so that nothing on it allocates or crosses a module boundary; the
//! parts that stand alone (latching, SRTP, DTMF, recording) are modules of
//! their own.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::dtmf::{DtmfKey, InbandDetector, KeyEvent, KeySet, KeySource, ToneGenerator};
use super::g711::Law;
use super::latch::{Admit, Latch, Peer};
use super::pacer::{ON_TIME, Pacer, SAMPLES_PER_TICK, Tick};
use super::pipe::{PcmPipe, PcmRing};
use super::ports::{PortAllocator, PortError, PortLease};
use super::prompt::Prompt;
use super::recorder::{RecordError, RecordLimits, RecordStop, Recorder, SilenceDetector};
use super::rfc4733::{EventPayload, EventReceiver, EventSender};
use super::rtp::{RtpPacket, RtpStream};
use super::srtp::{SrtpContext, SrtpKeys};

const FRAME: usize = SAMPLES_PER_TICK;
/// Ticks of normal audio between two digits sent (60 ms).
const DTMF_GAP_TICKS: u32 = 3;
/// Largest G.711 payload decoded from one packet (128 ms).
const MAX_RX_SAMPLES: usize = 1024;
/// Most packets read per tick (a far end sends one per 20 ms; the rest of a
/// flood waits in the socket buffer or is dropped by the kernel).
const MAX_RX_PER_TICK: usize = 32;

/// Where and how to send, from the remote SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteMedia {
    /// The remote RTP address from SDP; `None` until known (an outgoing leg
    /// before its answer) or while the far end holds with `c=0.0.0.0`. See
    /// [`crate::latch`] for what is accepted from it and when it is sent to.
    pub addr: Option<SocketAddr>,
    /// The negotiated audio codec (PCMU or PCMA).
    pub codec: Law,
    /// The negotiated telephone-event payload type, if any. Without one,
    /// digits are sent as in-band tones.
    pub event_pt: Option<u8>,
    /// SRTP keys when both SDPs carried `a=crypto`; `None` for plain RTP.
    pub srtp: Option<SrtpKeys>,
}

/// Whether received audio is searched for DTMF tones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InbandMode {
    /// Never.
    Off,
    /// Always, even when the peer also sends RFC 4733 events (a key may then
    /// be reported by both paths).
    On,
    /// Until the first RFC 4733 packet arrives: a peer that sends events
    /// usually also leaves the tones in its audio, and one path is enough.
    #[default]
    UntilRfc4733,
}

/// Settings of one session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The far end: where RTP goes, with which codec, events and keys.
    pub remote: RemoteMedia,
    /// When received audio is searched for DTMF tones.
    pub inband: InbandMode,
    /// Report [`MediaEvent::RemoteSilent`] after this long without any RTP.
    pub remote_silence: Option<Duration>,
    /// How long an RFC 4733 event may go without updates before its lost
    /// end is assumed.
    pub dtmf_end_timeout: Duration,
    /// Level of digits sent, in −dBm0 (RFC 4733 volume, or the tone level).
    pub dtmf_volume: u8,
    /// Which sources RTP is taken from (see [`crate::latch`]): the exact SDP
    /// address, or (behind NAT) the SDP's or the signalling IP on any port.
    pub latch: Latch,
    /// The far end's IP in signalling: where its INVITE came from, or where
    /// ours went. `Latch::Nat` takes RTP from it.
    pub signalled_ip: Option<IpAddr>,
    /// An IP whose signalling already confirmed the call: for a leg we call,
    /// the IP our INVITE went to (its answer came back on our transaction).
    /// For a call we answer it is `None` until the ACK
    /// ([`SessionHandle::confirm_peer`]). Media goes to the SDP address before
    /// any RTP came from it only if it is on this IP.
    pub confirmed_ip: Option<IpAddr>,
}

impl SessionConfig {
    /// Defaults: in-band until RFC 4733, remote silence after 30 s, 300 ms
    /// event end timeout, digits sent at −10 dBm0, strict latching, no
    /// signalling known (so nothing is sent until RTP comes from the SDP
    /// address or [`SessionHandle::confirm_peer`] is called).
    pub fn new(remote: RemoteMedia) -> Self {
        SessionConfig {
            remote,
            inband: InbandMode::default(),
            remote_silence: Some(Duration::from_secs(30)),
            dtmf_end_timeout: Duration::from_millis(300),
            dtmf_volume: 10,
            latch: Latch::Strict,
            signalled_ip: None,
            confirmed_ip: None,
        }
    }
}

/// Identifies one `play` request in [`MediaEvent::PlaybackFinished`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlaybackId(pub u64);

/// How a prompt plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlayOptions {
    /// A key stops it (and flushes every queued barge-in prompt).
    pub barge_in: bool,
}

/// What a recording captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordMode {
    /// What the far end says (a voice message).
    #[default]
    Caller,
    /// Both directions mixed (whole-call recording; on a bridged leg this is
    /// the caller and the agent).
    Both,
}

/// A recording request.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The WAV file to write.
    pub path: PathBuf,
    /// Duration and size limits.
    pub limits: RecordLimits,
    /// Keys that end the recording (the key is then not reported as a
    /// [`MediaEvent::Key`]).
    pub end_keys: KeySet,
    /// End after this long of caller silence.
    pub silence_timeout: Option<Duration>,
    /// What to capture.
    pub mode: RecordMode,
}

impl RecordOptions {
    /// Records the caller to `path` with default limits and no end condition.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RecordOptions {
            path: path.into(),
            limits: RecordLimits::default(),
            end_keys: KeySet::EMPTY,
            silence_timeout: None,
            mode: RecordMode::Caller,
        }
    }
}

/// What a session tells its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The caller pressed a key (by any DTMF path).
    Key(KeyEvent),
    /// A prompt finished or was stopped.
    PlaybackFinished {
        /// The `play` it answers.
        id: PlaybackId,
        /// Stopped by barge-in or `stop_playback` rather than played to the end.
        interrupted: bool,
    },
    /// A recording ended; the file is complete.
    RecordingFinished {
        /// The WAV file.
        path: PathBuf,
        /// Its length.
        duration: Duration,
        /// Why it ended.
        reason: RecordStop,
    },
    /// No RTP arrived for the configured time (a dead call, or a peer that
    /// stopped sending); reported once until packets flow again.
    RemoteSilent {
        /// Time since the last packet.
        silent_for: Duration,
    },
}

/// Counters of a session's send clock and packets, for metrics and load tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStats {
    /// Ticks handled (packets due).
    pub ticks: u64,
    /// Ticks sent more than 2 ms from their deadline, late or early (the
    /// media clock sends 1 ms ahead).
    pub off_time_ticks: u64,
    /// Ticks skipped after a stall (see [`crate::pacer`]).
    pub skipped_ticks: u64,
    /// Largest lateness seen, in microseconds.
    pub max_late_us: u64,
    /// RTP packets the socket took (one dropped by a full buffer is not counted).
    pub packets_sent: u64,
    /// RTP packets received and accepted.
    pub packets_received: u64,
    /// Datagrams dropped: from a source that is not the far end, or failing
    /// SRTP authentication or the replay check.
    pub packets_dropped: u64,
}

#[derive(Debug, Default)]
struct StatsCell {
    ticks: AtomicU64,
    off_time_ticks: AtomicU64,
    skipped_ticks: AtomicU64,
    max_late_us: AtomicU64,
    packets_sent: AtomicU64,
    packets_received: AtomicU64,
    packets_dropped: AtomicU64,
}

impl StatsCell {
    fn snapshot(&self) -> SessionStats {
        SessionStats {
            ticks: self.ticks.load(Ordering::Relaxed),
            off_time_ticks: self.off_time_ticks.load(Ordering::Relaxed),
            skipped_ticks: self.skipped_ticks.load(Ordering::Relaxed),
            max_late_us: self.max_late_us.load(Ordering::Relaxed),
            packets_sent: self.packets_sent.load(Ordering::Relaxed),
            packets_received: self.packets_received.load(Ordering::Relaxed),
            packets_dropped: self.packets_dropped.load(Ordering::Relaxed),
        }
    }
}

/// Datagrams all sessions dropped since the process started, for `/metrics`:
/// counted as they happen, so an attack shows while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropStats {
    /// From a source that is not the call's far end (see [`crate::latch`]).
    pub wrong_source: u64,
    /// From the far end's address but failing SRTP authentication or replayed.
    pub srtp_rejected: u64,
}

static WRONG_SOURCE: AtomicU64 = AtomicU64::new(0);
static SRTP_REJECTED: AtomicU64 = AtomicU64::new(0);

/// Datagrams dropped by every session so far.
pub fn drop_stats() -> DropStats {
    DropStats {
        wrong_source: WRONG_SOURCE.load(Ordering::Relaxed),
        srtp_rejected: SRTP_REJECTED.load(Ordering::Relaxed),
    }
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No port or socket.
    #[error(transparent)]
    Port(#[from] PortError),
    /// The socket could not join the tokio runtime.
    #[error("cannot register the RTP socket with the runtime: {0}")]
    Runtime(std::io::Error),
}

enum Command {
    Play {
        id: PlaybackId,
        prompt: Arc<Prompt>,
        barge_in: bool,
    },
    StopPlayback,
    StartMoh(Arc<Prompt>),
    StopMoh,
    Record(Box<ActiveRecording>),
    StopRecording,
    UpdateRemote(RemoteMedia),
    ConfirmPeer(IpAddr),
    Hold,
    Resume,
    SendDtmf(DtmfKey, Duration),
    AddSink(u64, Arc<PcmPipe>),
    AddSource(u64, Arc<PcmPipe>),
    Unlink(u64),
    Close,
}

/// Controls a running session; cheap to clone. Commands to a session that
/// has ended are ignored.
#[derive(Clone)]
pub struct SessionHandle {
    tx: mpsc::UnboundedSender<Command>,
    ids: Arc<AtomicU64>,
    stats: Arc<StatsCell>,
    local: SocketAddr,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("local", &self.local)
            .finish()
    }
}

impl SessionHandle {
    fn send(&self, c: Command) {
        let _ = self.tx.send(c);
    }

    /// The local RTP address (for the SDP answer or offer).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The session's counters so far.
    pub fn stats(&self) -> SessionStats {
        self.stats.snapshot()
    }

    /// Whether the session task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queues a prompt; its end is reported with the returned id.
    pub fn play(&self, prompt: Arc<Prompt>, options: PlayOptions) -> PlaybackId {
        let id = PlaybackId(self.ids.fetch_add(1, Ordering::Relaxed));
        self.send(Command::Play {
            id,
            prompt,
            barge_in: options.barge_in,
        });
        id
    }

    /// Stops the current prompt and empties the queue.
    pub fn stop_playback(&self) {
        self.send(Command::StopPlayback);
    }

    /// Loops `prompt` whenever no prompt is queued (replaces earlier music).
    pub fn start_moh(&self, prompt: Arc<Prompt>) {
        self.send(Command::StartMoh(prompt));
    }

    /// Stops the music on hold.
    pub fn stop_moh(&self) {
        self.send(Command::StopMoh);
    }

    /// Starts recording (ending any recording in progress with
    /// [`RecordStop::Stopped`]). The file is created here, so a bad path is
    /// an error at once; the end comes as [`MediaEvent::RecordingFinished`].
    pub fn record(&self, options: RecordOptions) -> Result<(), RecordError> {
        let recorder = Recorder::create(&options.path, options.limits)?;
        self.send(Command::Record(Box::new(ActiveRecording {
            recorder,
            end_keys: options.end_keys,
            silence: options
                .silence_timeout
                .map(|t| (SilenceDetector::default(), t)),
            mode: options.mode,
        })));
        Ok(())
    }

    /// Ends the recording in progress ([`RecordStop::Stopped`]).
    pub fn stop_recording(&self) {
        self.send(Command::StopRecording);
    }

    /// New remote address, codec, event payload type or SRTP keys (an
    /// answer, a re-INVITE). A new address is latched and proved again.
    pub fn update_remote(&self, remote: RemoteMedia) {
        self.send(Command::UpdateRemote(remote));
    }

    /// The far end's signalling confirmed the call from `ip` (the ACK of our
    /// 2xx came from there): if the SDP address is on that IP, media may be
    /// sent to it before any RTP came back.
    pub fn confirm_peer(&self, ip: IpAddr) {
        self.send(Command::ConfirmPeer(ip));
    }

    /// Stops sending and ignores received audio (the leg is on hold).
    pub fn hold(&self) {
        self.send(Command::Hold);
    }

    /// Ends [`SessionHandle::hold`].
    pub fn resume(&self) {
        self.send(Command::Resume);
    }

    /// Sends a digit: RFC 4733 when negotiated, in-band tones otherwise.
    /// Digits are queued and sent 60 ms apart.
    pub fn send_dtmf(&self, key: DtmfKey, duration: Duration) {
        self.send(Command::SendDtmf(key, duration));
    }

    /// Sends every key written in `digits` (other characters are skipped).
    pub fn send_digits(&self, digits: &str, duration: Duration) {
        for k in digits.chars().filter_map(DtmfKey::from_char) {
            self.send_dtmf(k, duration);
        }
    }

    /// Ends the session: a recording in progress finishes with
    /// [`RecordStop::HangUp`], the socket closes and the port is freed.
    pub fn close(&self) {
        self.send(Command::Close);
    }
}

/// A running session: its control handle and its event stream.
///
/// Dropping it closes the session.
#[derive(Debug)]
pub struct RtpSession {
    handle: SessionHandle,
    events: mpsc::UnboundedReceiver<MediaEvent>,
}

impl RtpSession {
    /// Opens a socket from `ports` and starts the session's task on the
    /// current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime with IO and time enabled (as `tokio::spawn`).
    pub fn start(ports: &PortAllocator, config: SessionConfig) -> Result<RtpSession, SessionError> {
        let (std_socket, lease) = ports.bind()?;
        let local = std_socket.local_addr().map_err(SessionError::Runtime)?;
        let (tx, ctrl) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let stats = Arc::new(StatsCell::default());
        let state = SessionState::new(std_socket, events_tx, config, stats.clone());
        let task = Task {
            _lease: lease,
            ctrl,
            state: Arc::new(Mutex::new(state)),
        };
        tokio::spawn(task.run());
        Ok(RtpSession {
            handle: SessionHandle {
                tx,
                ids: Arc::new(AtomicU64::new(1)),
                stats,
                local,
            },
            events,
        })
    }

    /// The control handle; clones of it may go to other tasks.
    pub fn handle(&self) -> &SessionHandle {
        &self.handle
    }

    /// The address the RTP socket is bound to; its port goes into our SDP.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local
    }

    /// The next event; `None` once the session has ended and all events
    /// were read. Cancel-safe (no event is lost if used in `select!`).
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        self.events.recv().await
    }

    /// An event if one is waiting.
    pub fn try_event(&mut self) -> Option<MediaEvent> {
        self.events.try_recv().ok()
    }
}

impl Drop for RtpSession {
    fn drop(&mut self) {
        self.handle.close();
    }
}

static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// A one-way audio path: what `from` receives is mixed into what `to`
/// sends. Removed when dropped.
#[derive(Debug)]
pub struct MediaLink {
    id: u64,
    from: SessionHandle,
    to: SessionHandle,
}

impl Drop for MediaLink {
    fn drop(&mut self) {
        self.from.send(Command::Unlink(self.id));
        self.to.send(Command::Unlink(self.id));
    }
}

/// Links `from`'s received audio into `to`'s output (transcoded if the two
/// legs use different codecs, since it passes as PCM).
pub fn link(from: &SessionHandle, to: &SessionHandle) -> MediaLink {
    let id = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
    let pipe = Arc::new(PcmPipe::new());
    from.send(Command::AddSink(id, pipe.clone()));
    to.send(Command::AddSource(id, pipe));
    MediaLink {
        id,
        from: from.clone(),
        to: to.clone(),
    }
}

/// Two legs talking to each other (caller and agent); dropping it separates them.
#[derive(Debug)]
pub struct Bridge {
    /// `a`'s audio to `b`.
    pub a_to_b: MediaLink,
    /// `b`'s audio to `a`.
    pub b_to_a: MediaLink,
}

/// A copy of what a session receives (8 kHz PCM), for speech recognition.
/// Removed when dropped.
#[derive(Debug)]
pub struct AudioTap {
    id: u64,
    pipe: Arc<PcmPipe>,
    from: SessionHandle,
}

impl AudioTap {
    /// Copies up to `out.len()` buffered samples into `out` (the rest reads as
    /// silence); returns how many were real audio.
    pub fn read(&self, out: &mut [i16]) -> usize {
        out.fill(0);
        self.pipe.mix_into(out)
    }
}

impl Drop for AudioTap {
    fn drop(&mut self) {
        self.from.send(Command::Unlink(self.id));
    }
}

/// Taps `from`'s received audio.
pub fn tap(from: &SessionHandle) -> AudioTap {
    let id = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
    let pipe = Arc::new(PcmPipe::new());
    from.send(Command::AddSink(id, pipe.clone()));
    AudioTap {
        id,
        pipe,
        from: from.clone(),
    }
}

/// Connects two legs both ways. Record both directions with
/// `a.record(RecordOptions { mode: RecordMode::Both, .. })`.
pub fn bridge(a: &SessionHandle, b: &SessionHandle) -> Bridge {
    Bridge {
        a_to_b: link(a, b),
        b_to_a: link(b, a),
    }
}

/// A supervisor hears both legs of a bridge (silent monitoring).
pub fn listen(supervisor: &SessionHandle, a: &SessionHandle, b: &SessionHandle) -> [MediaLink; 2] {
    [link(a, supervisor), link(b, supervisor)]
}

/// A supervisor speaks to one leg only (coaching); combine with [`listen`].
pub fn whisper(supervisor: &SessionHandle, to: &SessionHandle) -> MediaLink {
    link(supervisor, to)
}

struct Playing {
    id: PlaybackId,
    prompt: Arc<Prompt>,
    pos: usize,
    barge_in: bool,
}

struct ActiveRecording {
    recorder: Recorder,
    end_keys: KeySet,
    silence: Option<(SilenceDetector, Duration)>,
    mode: RecordMode,
}

/// The control side of a session, run by its tokio task: commands from the
/// call go into the shared [`SessionState`], which the media clock ticks.
struct Task {
    _lease: PortLease,
    ctrl: mpsc::UnboundedReceiver<Command>,
    state: Arc<Mutex<SessionState>>,
}

/// Everything a session sends and decodes, shared by its task (commands) and
/// a media clock thread (each 20 ms tick reads what arrived, then sends).
pub(super) struct SessionState {
    /// The session's non-blocking socket.
    socket: std::net::UdpSocket,
    rx_buf: [u8; 2048],
    events: mpsc::UnboundedSender<MediaEvent>,
    config: SessionConfig,
    stats: Arc<StatsCell>,
    stream: RtpStream,
    pacer: Pacer,
    closed: bool,
    epoch: Instant,
    queue: VecDeque<Playing>,
    moh: Option<Playing>,
    dtmf_queue: VecDeque<(DtmfKey, Duration)>,
    dtmf_rfc: Option<EventSender>,
    dtmf_tone: Option<ToneGenerator>,
    dtmf_gap: u32,
    event_rx: EventReceiver,
    detector: InbandDetector,
    inband_on: bool,
    inband_pressed: bool,
    last_ssrc: Option<u32>,
    recording: Option<ActiveRecording>,
    rx_ring: PcmRing,
    sinks: Vec<(u64, Arc<PcmPipe>)>,
    sources: Vec<(u64, Arc<PcmPipe>)>,
    held: bool,
    /// Where RTP is taken from and sent to.
    peer: Peer,
    /// Protects what we send, when the call uses SRTP.
    srtp_tx: Option<SrtpContext>,
    /// Checks and decrypts what we receive, when the call uses SRTP.
    srtp_rx: Option<SrtpContext>,
    last_rx: Instant,
    silent_reported: bool,
    rx_pcm: [i16; MAX_RX_SAMPLES],
    tx_buf: [u8; 512],
    out_pcm: [i16; FRAME],
    out_codes: [u8; FRAME],
    rx_frame: [i16; FRAME],
}

impl Task {
    /// Starts ticking `state` on the media clock and carries out commands
    /// until the session is closed.
    async fn run(mut self) {
        super::clock::register(self.state.clone());
        while let Some(c) = self.ctrl.recv().await {
            if matches!(c, Command::Close) {
                break;
            }
            lock(&self.state).command(c);
        }
        let mut state = lock(&self.state);
        state.closed = true;
        state.stop_recording(RecordStop::HangUp);
        state.flush_queue(|_| true);
    }
}

/// Locks a session's state; a panic elsewhere while it was held leaves the
/// state usable (every field is valid between two statements).
fn lock(state: &Mutex<SessionState>) -> std::sync::MutexGuard<'_, SessionState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl super::clock::Paced for SessionState {
    fn pacer(&mut self) -> &mut Pacer {
        &mut self.pacer
    }

    fn is_closed(&self) -> bool {
        self.closed
    }

    fn on_tick(&mut self, tick: Tick) {
        self.tick(tick);
    }

    /// Reads and handles every packet that arrived since the last tick (at
    /// most a bounded number, so a flood cannot hold up the clock).
    fn receive(&mut self) {
        for _ in 0..MAX_RX_PER_TICK {
            match self.socket.recv_from(&mut self.rx_buf) {
                Ok((len, src)) => self.datagram(len, src),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors from an earlier send surface here on some
                    // systems; they do not stop the session.
                    tracing::debug!(error = %e, "RTP receive error");
                }
            }
        }
    }
}

impl SessionState {
    fn new(
        socket: std::net::UdpSocket,
        events: mpsc::UnboundedSender<MediaEvent>,
        config: SessionConfig,
        stats: Arc<StatsCell>,
    ) -> SessionState {
        let now = Instant::now();
        SessionState {
            socket,
            rx_buf: [0; 2048],
            events,
            stats,
            stream: RtpStream::new_random(),
            // The clock sets the real start when it takes the session on.
            pacer: Pacer::new(now, super::pacer::PTIME),
            closed: false,
            epoch: now,
            queue: VecDeque::new(),
            moh: None,
            dtmf_queue: VecDeque::new(),
            dtmf_rfc: None,
            dtmf_tone: None,
            dtmf_gap: 0,
            event_rx: EventReceiver::new(config.dtmf_end_timeout.as_millis() as u64),
            detector: InbandDetector::new(),
            inband_on: config.inband != InbandMode::Off,
            inband_pressed: false,
            last_ssrc: None,
            recording: None,
            rx_ring: PcmRing::new(),
            sinks: Vec::new(),
            sources: Vec::new(),
            held: false,
            peer: Peer::new(
                config.latch,
                config.remote.addr,
                config.signalled_ip,
                config.confirmed_ip,
            ),
            srtp_tx: config.remote.srtp.map(|k| SrtpContext::new(&k.send)),
            srtp_rx: config.remote.srtp.map(|k| SrtpContext::new(&k.receive)),
            last_rx: now,
            silent_reported: false,
            rx_pcm: [0; MAX_RX_SAMPLES],
            tx_buf: [0; 512],
            out_pcm: [0; FRAME],
            out_codes: [0; FRAME],
            rx_frame: [0; FRAME],
            config,
        }
    }

    fn emit(&self, e: MediaEvent) {
        let _ = self.events.send(e);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Play {
                id,
                prompt,
                barge_in,
            } => self.queue.push_back(Playing {
                id,
                prompt,
                pos: 0,
                barge_in,
            }),
            Command::StopPlayback => self.flush_queue(|_| true),
            Command::StartMoh(prompt) => {
                self.moh = Some(Playing {
                    id: PlaybackId(0),
                    prompt,
                    pos: 0,
                    barge_in: false,
                })
            }
            Command::StopMoh => self.moh = None,
            Command::Record(rec) => {
                self.stop_recording(RecordStop::Stopped);
                self.rx_ring = PcmRing::new();
                self.recording = Some(*rec);
            }
            Command::StopRecording => self.stop_recording(RecordStop::Stopped),
            Command::UpdateRemote(remote) => {
                self.peer.update(remote.addr);
                let old = self.config.remote.srtp;
                let (old_send, old_receive) = (old.map(|k| k.send), old.map(|k| k.receive));
                let new = remote.srtp;
                // A context is kept while its key stays: restarting it would
                // reuse the keystream of packets already sent (same key, SSRC
                // and index) or reopen the replay window.
                if new.map(|k| k.send) != old_send {
                    self.srtp_tx = new.map(|k| SrtpContext::new(&k.send));
                }
                if new.map(|k| k.receive) != old_receive {
                    self.srtp_rx = new.map(|k| SrtpContext::new(&k.receive));
                }
                self.config.remote = remote;
                self.event_rx.reset();
                self.stream.mark_talkspurt();
            }
            Command::ConfirmPeer(ip) => self.peer.confirm(ip),
            Command::Hold => self.held = true,
            Command::Resume => {
                self.held = false;
                self.last_rx = Instant::now();
                self.stream.mark_talkspurt();
            }
            Command::SendDtmf(key, duration) => self.dtmf_queue.push_back((key, duration)),
            Command::AddSink(id, pipe) => self.sinks.push((id, pipe)),
            Command::AddSource(id, pipe) => self.sources.push((id, pipe)),
            Command::Unlink(id) => {
                self.sinks.retain(|(i, _)| *i != id);
                self.sources.retain(|(i, _)| *i != id);
            }
            Command::Close => {}
        }
    }

    /// Removes the queued prompts `which` selects, reporting them interrupted.
    fn flush_queue(&mut self, which: impl Fn(&Playing) -> bool) {
        let events = &self.events;
        self.queue.retain(|p| {
            if which(p) {
                let _ = events.send(MediaEvent::PlaybackFinished {
                    id: p.id,
                    interrupted: true,
                });
                false
            } else {
                true
            }
        });
    }

    fn barge_in(&mut self) {
        self.flush_queue(|p| p.barge_in);
    }

    fn key(&mut self, event: KeyEvent) {
        self.barge_in();
        if let Some(rec) = &self.recording
            && rec.end_keys.contains(event.key)
        {
            self.stop_recording(RecordStop::Key(event.key));
            return;
        }
        self.emit(MediaEvent::Key(event));
    }

    fn stop_recording(&mut self, reason: RecordStop) {
        let Some(rec) = self.recording.take() else {
            return;
        };
        let path = rec.recorder.path().to_path_buf();
        let duration = rec.recorder.duration();
        let reason = match rec.recorder.finish(reason) {
            Ok(r) => r.reason,
            Err(e) => {
                tracing::warn!(error = %e, "closing a recording failed");
                RecordStop::WriteFailed
            }
        };
        self.emit(MediaEvent::RecordingFinished {
            path,
            duration,
            reason,
        });
    }

    fn tick(&mut self, tick: Tick) {
        let stats = &self.stats;
        stats.ticks.fetch_add(1, Ordering::Relaxed);
        if tick.off_by() > ON_TIME {
            stats.off_time_ticks.fetch_add(1, Ordering::Relaxed);
        }
        stats
            .max_late_us
            .fetch_max(tick.late.as_micros() as u64, Ordering::Relaxed);
        if tick.skipped > 0 {
            stats
                .skipped_ticks
                .fetch_add(tick.skipped, Ordering::Relaxed);
            self.stream.skip((tick.skipped as usize * FRAME) as u32);
        }
        let now = Instant::now();
        if let Some(ended) = self.event_rx.poll(self.now_ms()) {
            self.key(KeyEvent {
                key: ended.key,
                source: KeySource::Rfc4733,
                at: now,
                duration: ended.duration(),
            });
        }
        self.check_remote_silence(now);
        if self.peer.target().is_none() {
            // Nobody has shown it wants this call's media yet (see
            // `crate::latch`): send nothing, and keep prompts and digits for
            // when someone has, so that the far end hears them from the start.
            self.stream.skip(FRAME as u32);
            self.out_pcm.fill(0);
            self.record_tick();
            return;
        }
        self.schedule_dtmf();
        let law = self.config.remote.codec;
        let need_pcm = !self.sources.is_empty()
            || self.dtmf_tone.is_some()
            || matches!(&self.recording, Some(r) if r.mode == RecordMode::Both);
        if need_pcm {
            self.fill_pcm();
            law.encode(&self.out_pcm, &mut self.out_codes);
        } else {
            self.fill_codes(law);
        }
        self.record_tick();
        self.send_packet(law);
    }

    fn check_remote_silence(&mut self, now: Instant) {
        let Some(limit) = self.config.remote_silence else {
            return;
        };
        if self.held || self.silent_reported {
            return;
        }
        let silent_for = now.saturating_duration_since(self.last_rx);
        if silent_for >= limit {
            self.silent_reported = true;
            self.emit(MediaEvent::RemoteSilent { silent_for });
        }
    }

    fn schedule_dtmf(&mut self) {
        if self.dtmf_rfc.is_some() || self.dtmf_tone.is_some() {
            return;
        }
        if self.dtmf_gap > 0 {
            self.dtmf_gap -= 1;
            return;
        }
        let Some((key, duration)) = self.dtmf_queue.pop_front() else {
            return;
        };
        let samples = (duration.as_micros() / 125).clamp(FRAME as u128, u16::MAX as u128) as u16;
        if self.config.remote.event_pt.is_some() {
            self.dtmf_rfc = Some(EventSender::new(
                key,
                samples,
                self.config.dtmf_volume,
                self.stream.timestamp(),
                FRAME as u16,
            ));
        } else {
            self.dtmf_tone = Some(ToneGenerator::new(
                key,
                -(self.config.dtmf_volume as f32),
                samples as usize,
            ));
        }
    }

    /// Takes up to `n` samples of playback (queue, else music on hold),
    /// handing each contiguous piece to `copy(prompt, from, to, len)`.
    fn take_playback(
        queue: &mut VecDeque<Playing>,
        moh: &mut Option<Playing>,
        events: &mpsc::UnboundedSender<MediaEvent>,
        n: usize,
        mut copy: impl FnMut(&Prompt, usize, usize, usize),
    ) -> usize {
        let mut filled = 0;
        let mut moh_wrapped = false;
        while filled < n {
            let from_queue = !queue.is_empty();
            let playing = match queue.front_mut() {
                Some(p) => p,
                None => match moh.as_mut() {
                    Some(m) if !m.prompt.is_empty() && !moh_wrapped => m,
                    _ => break,
                },
            };
            let len =
                (n - filled).min(playing.prompt.len() - playing.pos.min(playing.prompt.len()));
            copy(&playing.prompt, playing.pos, filled, len);
            playing.pos += len;
            filled += len;
            if playing.pos >= playing.prompt.len() {
                if from_queue {
                    if let Some(done) = queue.pop_front() {
                        let _ = events.send(MediaEvent::PlaybackFinished {
                            id: done.id,
                            interrupted: false,
                        });
                    }
                } else {
                    playing.pos = 0;
                    moh_wrapped = len == 0;
                }
            }
        }
        filled
    }

    fn fill_codes(&mut self, law: Law) {
        let out = &mut self.out_codes;
        let filled = Self::take_playback(
            &mut self.queue,
            &mut self.moh,
            &self.events,
            FRAME,
            |p, from, to, len| {
                out[to..to + len].copy_from_slice(&p.encoded(law)[from..from + len]);
            },
        );
        out[filled..].fill(law.silence());
    }

    fn fill_pcm(&mut self) {
        let out = &mut self.out_pcm;
        let filled = Self::take_playback(
            &mut self.queue,
            &mut self.moh,
            &self.events,
            FRAME,
            |p, from, to, len| {
                out[to..to + len].copy_from_slice(&p.pcm[from..from + len]);
            },
        );
        out[filled..].fill(0);
        for (_, pipe) in &self.sources {
            pipe.mix_into(out);
        }
        if let Some(tone) = &mut self.dtmf_tone {
            tone.mix_into(out);
            if tone.remaining() == 0 {
                self.dtmf_tone = None;
                self.dtmf_gap = DTMF_GAP_TICKS;
            }
        }
    }

    fn record_tick(&mut self) {
        let Some(rec) = &mut self.recording else {
            return;
        };
        self.rx_ring.read_into(&mut self.rx_frame);
        let written = match rec.mode {
            RecordMode::Caller => rec.recorder.write(&self.rx_frame),
            RecordMode::Both => rec.recorder.write_mixed(&self.rx_frame, &self.out_pcm),
        };
        let mut stop = match written {
            Ok(limit) => limit,
            Err(e) => {
                tracing::warn!(error = %e, "recording write failed");
                Some(RecordStop::WriteFailed)
            }
        };
        if stop.is_none()
            && let Some((detector, timeout)) = &mut rec.silence
        {
            detector.feed(&self.rx_frame);
            if detector.silent_for() >= *timeout {
                stop = Some(RecordStop::Silence);
            }
        }
        if let Some(reason) = stop {
            self.stop_recording(reason);
        }
    }

    fn send_packet(&mut self, law: Law) {
        let Some(addr) = self.peer.target().filter(|_| !self.held) else {
            self.stream.skip(FRAME as u32);
            return;
        };
        let event_pt = self.config.remote.event_pt;
        let len = match (&mut self.dtmf_rfc, event_pt) {
            (Some(sender), Some(pt)) => {
                let Some(packet) = sender.next() else {
                    self.dtmf_rfc = None;
                    return;
                };
                if sender.is_done() {
                    self.dtmf_rfc = None;
                    self.dtmf_gap = DTMF_GAP_TICKS;
                }
                let header = self.stream.next_at(pt, packet.marker, packet.timestamp);
                self.stream.skip(FRAME as u32);
                header.write_packet(&packet.payload.to_bytes(), &mut self.tx_buf)
            }
            _ => {
                self.dtmf_rfc = None;
                let header = self.stream.next_audio(law.payload_type(), FRAME as u32);
                header.write_packet(&self.out_codes, &mut self.tx_buf)
            }
        };
        let Ok(mut len) = len else {
            return;
        };
        if let Some(srtp) = &mut self.srtp_tx {
            match srtp.protect(&mut self.tx_buf, len) {
                Ok(n) => len = n,
                Err(_) => return,
            }
        }
        // Non-blocking: a full socket buffer drops this packet (counted as
        // a send error) rather than holding up the clock.
        match self.socket.send_to(&self.tx_buf[..len], addr) {
            Ok(_) => {
                self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, %addr, "RTP send error"),
        }
    }

    /// Counts a datagram that is not the far end's media.
    fn refuse(&self, srtp: bool) {
        self.stats.packets_dropped.fetch_add(1, Ordering::Relaxed);
        let counter = if srtp { &SRTP_REJECTED } else { &WRONG_SOURCE };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn datagram(&mut self, len: usize, src: SocketAddr) {
        // Who sent it first (cheap), then whether it is genuine: a packet from
        // elsewhere, or one failing SRTP, neither latches nor reaches the call.
        let admit = self.peer.admit(src);
        if admit == Admit::No {
            self.refuse(false);
            return;
        }
        let len = match &mut self.srtp_rx {
            Some(srtp) => match srtp.unprotect(&mut self.rx_buf, len) {
                Ok(n) => n,
                Err(_) => {
                    self.refuse(true);
                    return;
                }
            },
            None => len,
        };
        let Ok(packet) = RtpPacket::parse(&self.rx_buf[..len]) else {
            return;
        };
        if admit == Admit::Candidate {
            self.peer.latch(src);
        }
        let now = Instant::now();
        self.last_rx = now;
        self.silent_reported = false;
        self.stats.packets_received.fetch_add(1, Ordering::Relaxed);
        if self.last_ssrc != Some(packet.ssrc) {
            if self.last_ssrc.is_some() {
                self.event_rx.reset();
            }
            self.last_ssrc = Some(packet.ssrc);
        }
        if Some(packet.payload_type) == self.config.remote.event_pt {
            if self.config.inband == InbandMode::UntilRfc4733 {
                self.inband_on = false;
            }
            let Ok(payload) = EventPayload::parse(packet.payload) else {
                return;
            };
            let notice = self
                .event_rx
                .on_packet(packet.timestamp, &payload, self.now_ms());
            if notice.started.is_some() {
                self.barge_in();
            }
            if let Some(ended) = notice.ended {
                self.key(KeyEvent {
                    key: ended.key,
                    source: KeySource::Rfc4733,
                    at: now,
                    duration: ended.duration(),
                });
            }
            return;
        }
        let Some(law) = Law::from_payload_type(packet.payload_type) else {
            return; // comfort noise and other payloads
        };
        if self.held {
            return;
        }
        let n = law.decode(packet.payload, &mut self.rx_pcm);
        if self.inband_on {
            for i in (0..n).step_by(FRAME) {
                let end = (i + FRAME).min(n);
                let found = self.detector.push_frame(&self.rx_pcm[i..end]);
                let pressed = self.detector.pressed().is_some();
                if pressed && !self.inband_pressed {
                    self.barge_in();
                }
                self.inband_pressed = pressed;
                if let Some(d) = found {
                    self.key(KeyEvent {
                        key: d.key,
                        source: KeySource::Inband,
                        at: now,
                        duration: Duration::from_millis(d.duration_ms as u64),
                    });
                }
            }
        }
        let pcm = &self.rx_pcm[..n];
        for (_, sink) in &self.sinks {
            sink.write(pcm);
        }
        if self.recording.is_some() {
            self.rx_ring.write(pcm);
        }
    }
}

#[cfg(test)]
mod tests;
