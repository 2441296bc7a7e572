//! Running compiled programs: the API the runtime uses.
//!
//! A [`Program`] holds the IR and a back-end (native code by default, or the
//! interpreter). [`Program::start`] gives a [`FlowInstance`] for one call; each
//! [`FlowInstance::step`] runs the flow until it needs the outside world and
//! returns a [`Command`]; the runtime carries it out and calls `step` again with
//! the [`Input`] it got. Sub-flow calls, `on error` handling and the step budget
//! are handled here, the same for both back-ends. Predicates (queue priorities,
//! conditions, filters, guards) run through an [`Evaluator`].

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::backend::{Backend, Engine};
use crate::ctx::{ExecCtx, InputRegs, Pending, RtError, STEP_BUDGET, Shared};
use crate::error::CompileError;
use crate::interp::Interpreter;
use crate::ir::*;
use crate::value::{RecordValue, Value, raw_to_value, value_to_raw};

/// A compiled program, ready to run calls.
#[derive(Clone)]
pub struct Program {
    shared: Arc<Shared>,
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("flows", &self.shared.ir.flows.len())
            .field("engine", &self.backend.engine())
            .finish()
    }
}

/// What a call looks like to a flow when it starts.
#[derive(Debug, Clone, Default)]
pub struct CallInfo {
    /// The calling number (user part of From).
    pub caller: String,
    /// The dialled number.
    pub called: String,
    /// The trunk group the call came in on.
    pub trunk: String,
    /// Arguments by name (campaign flows get the list record's fields).
    pub args: Vec<(String, Value)>,
}

/// A problem starting a flow.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StartError {
    /// No flow of that name.
    #[error("there is no flow called `{0}`")]
    NoFlow(String),
    /// An argument is missing or of the wrong type: the flow, the parameter's
    /// name and the type it needs.
    #[error("the flow `{flow}` needs `{arg}` as {ty}")]
    #[allow(missing_docs)]
    BadArgument {
        flow: String,
        arg: String,
        ty: String,
    },
}

impl Program {
    /// Builds a program from IR with the given engine (verifying the IR first).
    pub fn new(ir: ProgramIr, engine: Engine) -> Result<Program, CompileError> {
        crate::verify::verify(&ir).map_err(CompileError::Verify)?;
        let shared = Arc::new(Shared::new(ir));
        let backend: Arc<dyn Backend> = match engine {
            Engine::Interp => Arc::new(Interpreter::new(shared.clone())),
            Engine::Native => Arc::new(crate::jit::Native::compile(shared.clone())?),
        };
        Ok(Program { shared, backend })
    }

    /// The IR.
    pub fn ir(&self) -> &ProgramIr {
        &self.shared.ir
    }

    /// The shared, compiled parts (calendars, lists).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Which engine runs the code.
    pub fn engine(&self) -> Engine {
        self.backend.engine()
    }

    /// The flow answering a dialled number.
    pub fn flow_for_number(&self, number: &str) -> Option<&str> {
        self.shared
            .ir
            .numbers
            .iter()
            .find(|(n, _)| n == number)
            .and_then(|(_, f)| self.shared.ir.flows.get(*f as usize))
            .map(|f| f.name.as_str())
    }

    /// Starts flow `name` for a call.
    pub fn start(&self, name: &str, call: CallInfo) -> Result<FlowInstance, StartError> {
        let flow = self
            .shared
            .ir
            .flow_id(name)
            .ok_or_else(|| StartError::NoFlow(name.to_string()))?;
        let mut ctx = ExecCtx::new(self.shared.clone());
        ctx.caller = ctx.texts.intern(&call.caller);
        ctx.called = ctx.texts.intern(&call.called);
        ctx.trunk = ctx.texts.intern(&call.trunk);
        ctx.data = self
            .shared
            .ir
            .calldata
            .iter()
            .map(|f| const_raw(&f.default, &mut ctx))
            .collect();
        let f = &self.shared.ir.flows[flow as usize];
        let mut args = Vec::new();
        for (pname, pty) in &f.params {
            let v = call
                .args
                .iter()
                .find(|(n, _)| n == pname)
                .and_then(|(_, v)| value_to_raw(v, *pty, &mut ctx.texts));
            match v {
                Some(v) => args.push(v),
                None => {
                    return Err(StartError::BadArgument {
                        flow: name.to_string(),
                        arg: pname.clone(),
                        ty: pty.to_string(),
                    });
                }
            }
        }
        let frame = Frame::new(&self.shared.ir, flow, &args, &mut ctx);
        Ok(FlowInstance {
            program: self.clone(),
            ctx,
            frames: vec![frame],
            awaiting: None,
            terminator: None,
            node: String::new(),
            location: String::new(),
            done: false,
        })
    }

    /// An evaluator for predicates (one per thread or actor; cheap to make).
    pub fn evaluator(&self) -> Evaluator {
        Evaluator {
            program: self.clone(),
            ctx: ExecCtx::new(self.shared.clone()),
        }
    }
}

fn const_raw(c: &ConstValue, ctx: &mut ExecCtx) -> u64 {
    match c {
        ConstValue::Num(n) => n.to_bits(),
        ConstValue::Int(i) => *i as u64,
        ConstValue::Text(t) => u64::from(ctx.texts.intern(t)),
    }
}

/// One activation of a flow: its slots and where to resume.
#[derive(Debug, Clone)]
struct Frame {
    flow: FlowId,
    slots: Vec<u64>,
    start: BlockId,
    /// Already handling an error (a second error is not caught again).
    in_error: bool,
}

impl Frame {
    fn new(ir: &ProgramIr, flow: FlowId, args: &[u64], ctx: &mut ExecCtx) -> Frame {
        let f = &ir.flows[flow as usize];
        let empty = u64::from(ctx.texts.intern(""));
        let mut slots: Vec<u64> = f
            .slots
            .iter()
            .map(|(_, t)| match t {
                Type::Text | Type::Recording => empty,
                _ => 0,
            })
            .collect();
        for (i, a) in args.iter().enumerate() {
            if let Some(s) = slots.get_mut(i) {
                *s = *a;
            }
        }
        Frame {
            flow,
            slots,
            start: f.body.entry,
            in_error: false,
        }
    }
}

/// What the runtime hands back to a flow after carrying out a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The first step.
    Start,
    /// The command was carried out (play, say, notify, pause).
    Done,
    /// A menu choice was made (index into the menu's choices).
    Choice(u32),
    /// Digits were entered. For a collect with a terminator, the terminator
    /// and anything after it are not part of them (nor counted against `min`
    /// and `max`), however the runtime reports them.
    Digits(String),
    /// Nothing was entered in time.
    NoInput,
    /// What was entered matched nothing.
    NoMatch,
    /// A lookup answered; field name → value.
    Record(Vec<(String, Value)>),
    /// A lookup whose operation answers a list answered these records.
    Records(Vec<Vec<(String, Value)>>),
    /// The service found nothing (a 404 or an empty answer) and the service's
    /// `not found -> answer` makes that an answer: no record, or no records.
    NotFound,
    /// A recording was made (its id).
    Recording(String),
    /// A workorder was created (its number).
    Created(String),
    /// The command failed (lookup time-out, transfer failure...), with the reason.
    Failed(String),
}

/// One item of speech, in the call's language.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Speech {
    /// Text as is.
    Text(String),
    /// A money amount.
    Money(f64),
    /// Digit by digit.
    Digits(String),
    /// A number, read as a quantity rather than digit by digit.
    Number(f64),
    /// A date, read in the call's language.
    Date(NaiveDate),
    /// A clock time, seconds after midnight.
    Time(u32),
    /// A date and a clock time, read in the call's language.
    DateTime(chrono::NaiveDateTime),
}

/// A prompt: files to play or speech.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Prompt {
    /// Play files (names under the project's `prompts/`; the runtime picks the
    /// language folder).
    Files(Vec<String>),
    /// Speak.
    Speech {
        /// What to say.
        items: Vec<Speech>,
        /// TTS voice.
        voice: Option<String>,
        /// Speaking rate.
        rate: Option<u32>,
    },
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Transfer {
    /// A queue, by name: the caller waits there for an agent.
    Queue(String),
    /// An agent, by id.
    Agent(String),
    /// An outside number.
    Number(String),
    /// Another flow (the runtime starts it on the same call).
    Flow(String),
}

/// What a flow asks the runtime to do.
///
/// Fields carry what the flow's statement said, with expressions evaluated and
/// durations in milliseconds: `name` names the step in the call's trail, `prompts`
/// are played before listening, `caller_id` is the number presented to the callee.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)]
pub enum Command {
    /// Play prompts; resume with `Done`.
    Play {
        prompt: Prompt,
        /// A key stops it.
        barge_in: bool,
    },
    /// Present a menu; resume with `Choice`, `NoInput` or `NoMatch`.
    Menu {
        name: String,
        prompts: Vec<Prompt>,
        /// Key sequences per choice.
        keys: Vec<Vec<String>>,
        /// Spoken phrases per choice.
        phrases: Vec<Vec<String>>,
        /// Time for the first key, ms.
        timeout_ms: i64,
        /// Time between keys, ms.
        digit_timeout_ms: i64,
        /// A key stops the prompt.
        barge_in: bool,
        /// Listen for speech.
        speech: bool,
        /// Lowest accepted confidence.
        confidence: f64,
        /// Attempt number (1-based).
        attempt: u32,
    },
    /// Collect digits; resume with `Digits`, `NoInput`.
    Collect {
        /// The variable (for the trail).
        name: String,
        prompts: Vec<Prompt>,
        /// Fewest digits (shorter entries are reported as digits; the flow rejects them).
        min: u32,
        /// Most digits.
        max: u32,
        /// Key that ends the entry.
        terminator: Option<char>,
        /// Time for the first digit, ms.
        timeout_ms: i64,
        /// Time between digits, ms.
        digit_timeout_ms: i64,
        /// A key stops the prompt.
        barge_in: bool,
        /// Accept spoken digits.
        speech: bool,
        /// Lowest accepted confidence of spoken digits.
        confidence: f64,
        /// Keep the digits out of logs.
        mask: bool,
        /// Attempt number.
        attempt: u32,
    },
    /// Call an external service; resume with `Record` or `Failed`.
    Lookup {
        /// Service name.
        service: String,
        /// Operation name.
        operation: String,
        /// GET or POST.
        method: HttpMethod,
        /// Full URL with the path parameters filled in.
        url: String,
        /// Parameters by name (query for GET, JSON body for POST).
        params: Vec<(String, Value)>,
        /// Time-out, ms.
        timeout_ms: i64,
        /// The operation answers a JSON array of records (resume with `Records`).
        list: bool,
        /// Whether a 404 or an empty answer is an answer (`NotFound`) or a
        /// failure (`Failed`).
        not_found: NotFound,
    },
    /// Record a message; resume with `Recording` or `Failed`.
    Record {
        /// Longest recording, ms.
        max_ms: i64,
        /// Silence that ends it, ms.
        silence_ms: i64,
        /// Key that ends it.
        terminator: Option<char>,
        /// Beep first.
        beep: bool,
    },
    /// Create a workorder; resume with `Created` or `Failed`.
    CreateWorkorder {
        /// Workorder type.
        kind: String,
        /// Field values.
        fields: Vec<(String, Value)>,
    },
    /// Read an order; resume with `Record` (number, state, department,
    /// handler and the lifecycle's fields) or `Failed`.
    LookupWorkorder {
        /// Workorder type.
        kind: String,
        /// The order's number.
        number: String,
    },
    /// Move an order to `to` along a transition the IVR may take; resume with
    /// `Done` or `Failed` (the reason).
    TransitionWorkorder {
        /// The order's number.
        number: String,
        /// The state to move it to.
        to: String,
        /// Kept in the order's history.
        comment: Option<String>,
    },
    /// Send a notification; resume with `Done` (or `Failed`).
    Notify {
        /// SMS or e-mail.
        channel: NotifyChannel,
        /// Recipient.
        to: String,
        /// Subject (e-mail).
        subject: Option<String>,
        body: String,
        /// The recording to attach (what `record` gave the flow: the file of
        /// this call's recording), when the flow asks for one; empty when
        /// the variable holds no recording.
        attachment: Option<String>,
    },
    /// Transfer the call. When it succeeds the flow is over; when it fails resume
    /// with `Failed` (the flow's `else` runs, or the flow's error handling).
    Transfer {
        to: Transfer,
        /// Ring time-out, ms.
        timeout_ms: Option<i64>,
        /// Trunk group.
        via: Option<String>,
        caller_id: Option<String>,
        /// Added to the queue's priority while the call waits (a transfer to a
        /// queue with `(priority N)`).
        priority: Option<f64>,
    },
    /// Wait; resume with `Done`.
    Pause {
        /// How long, ms.
        ms: i64,
    },
    /// Hang up the call.
    Hangup,
    /// The flow ended (fell off its end): hang up.
    Finished,
    /// A run-time error nothing handled: log it and end the call.
    Failed {
        /// What went wrong.
        message: String,
        /// Where, as `file:line:col`.
        location: String,
    },
}

/// One call's run of a flow.
pub struct FlowInstance {
    program: Program,
    ctx: ExecCtx,
    frames: Vec<Frame>,
    /// The record type of a pending lookup (to read its answer).
    /// The record type a pending lookup answers, and whether it answers a list.
    awaiting: Option<(RecordId, bool)>,
    /// The terminator of a pending collect: entered digits end before it, so
    /// every runtime (and every scripted call) gives the flow the same digits.
    terminator: Option<char>,
    node: String,
    location: String,
    done: bool,
}

impl std::fmt::Debug for FlowInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowInstance")
            .field("frames", &self.frames.len())
            .field("node", &self.node)
            .finish()
    }
}

impl FlowInstance {
    /// Runs the flow until it needs the outside world, using the system clock.
    pub fn step(&mut self, input: Input) -> Command {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        self.step_at(input, now)
    }

    /// Runs the flow until it needs the outside world, at a given time (Unix ms).
    pub fn step_at(&mut self, input: Input, now_ms: i64) -> Command {
        if self.done || self.frames.is_empty() {
            return Command::Finished;
        }
        self.ctx.now_ms = now_ms;
        self.ctx.budget = STEP_BUDGET;
        self.set_input(input);
        loop {
            let Some(frame) = self.frames.last_mut() else {
                self.done = true;
                return Command::Finished;
            };
            self.ctx.pending = None;
            self.ctx.error = None;
            let flow = frame.flow;
            let start = frame.start;
            self.program
                .backend
                .run_flow(flow, &mut self.ctx, &mut frame.slots, start);
            if let Some(err) = self.ctx.error.take() {
                if let Some(cmd) = self.handle_error(err) {
                    return cmd;
                }
                continue;
            }
            match self.ctx.pending.take() {
                Some(Pending::Suspend(t, args, resume)) => {
                    let ir = &self.program.shared.ir;
                    if let Some(frame) = self.frames.last_mut() {
                        frame.start = ir.flows[frame.flow as usize].resumes[resume as usize];
                    }
                    return self.build_command(t, &args);
                }
                Some(Pending::Call(callee, args, resume)) => {
                    let ir = &self.program.shared.ir;
                    if let Some(frame) = self.frames.last_mut() {
                        frame.start = ir.flows[frame.flow as usize].resumes[resume as usize];
                    }
                    if self.frames.len() >= 64 {
                        let loc = self.frame_loc();
                        if let Some(cmd) = self.handle_error(RtError {
                            message: "sub-flows call each other more than 64 deep".into(),
                            loc,
                        }) {
                            return cmd;
                        }
                        continue;
                    }
                    let frame = Frame::new(&self.program.shared.ir, callee, &args, &mut self.ctx);
                    self.frames.push(frame);
                    self.ctx.input = InputRegs::default();
                }
                Some(Pending::Return(v)) => {
                    self.frames.pop();
                    if self.frames.is_empty() {
                        self.done = true;
                        return Command::Finished;
                    }
                    self.ctx.input = InputRegs {
                        kind: InputKind::Returned as i64,
                        returned: v.unwrap_or(0),
                        ..InputRegs::default()
                    };
                }
                Some(Pending::Hangup) => {
                    self.frames.clear();
                    self.done = true;
                    return Command::Hangup;
                }
                None => {
                    self.done = true;
                    return Command::Failed {
                        message: "internal error: the flow stopped without a result".into(),
                        location: self.location.clone(),
                    };
                }
            }
        }
    }

    fn frame_loc(&self) -> LocId {
        self.frames
            .last()
            .and_then(|f| {
                self.program.shared.ir.flows[f.flow as usize]
                    .body
                    .blocks
                    .get(f.start as usize)
            })
            .map(|b| b.loc)
            .unwrap_or(0)
    }

    /// Routes a run-time error to the nearest `on error`; `Some` when nothing handles it.
    fn handle_error(&mut self, err: RtError) -> Option<Command> {
        let location = self.program.shared.ir.location(err.loc);
        while let Some(frame) = self.frames.last_mut() {
            let f = &self.program.shared.ir.flows[frame.flow as usize];
            if let (Some(h), false) = (f.on_error, frame.in_error) {
                frame.start = h;
                frame.in_error = true;
                let msg = format!("{} ({location})", err.message);
                self.ctx.input = InputRegs {
                    kind: InputKind::Error as i64,
                    text: u64::from(self.ctx.texts.intern(&msg)),
                    ..InputRegs::default()
                };
                self.location = location;
                return None;
            }
            self.frames.pop();
        }
        self.done = true;
        Some(Command::Failed {
            message: err.message,
            location,
        })
    }

    fn set_input(&mut self, input: Input) {
        let mut regs = InputRegs::default();
        let t = &mut self.ctx.texts;
        match input {
            Input::Start | Input::Done => regs.kind = InputKind::Done as i64,
            Input::Choice(i) => {
                regs.kind = InputKind::Choice as i64;
                regs.choice = i64::from(i);
            }
            Input::Digits(d) => {
                regs.kind = InputKind::Digits as i64;
                let d = match self.terminator {
                    Some(k) => d.split(k).next().unwrap_or(""),
                    None => d.as_str(),
                };
                regs.text = u64::from(t.intern(d));
            }
            Input::NoInput => regs.kind = InputKind::NoInput as i64,
            Input::NoMatch => regs.kind = InputKind::NoMatch as i64,
            Input::Record(fields) => {
                regs.kind = InputKind::Record as i64;
                match self.awaiting {
                    Some((rid, false)) => regs.record = self.add_answer(rid, &fields),
                    // A list operation answered one record: a list of one.
                    Some((rid, true)) => {
                        let h = self.add_answer(rid, &fields);
                        regs.record = self.ctx.add_record_list(vec![h]);
                    }
                    None => {}
                }
            }
            Input::Records(items) => {
                regs.kind = InputKind::Record as i64;
                match self.awaiting {
                    Some((rid, true)) => {
                        let handles = items
                            .iter()
                            .map(|fields| self.add_answer(rid, fields))
                            .collect();
                        regs.record = self.ctx.add_record_list(handles);
                    }
                    // A record operation answered a list: its first record.
                    Some((rid, false)) => {
                        if let Some(fields) = items.first() {
                            regs.record = self.add_answer(rid, fields);
                        }
                    }
                    None => {}
                }
            }
            // Handle 0: no record (`known(x)` is false), or the empty list.
            Input::NotFound => regs.kind = InputKind::Record as i64,
            Input::Recording(id) => {
                regs.kind = InputKind::Recording as i64;
                regs.text = u64::from(t.intern(&id));
            }
            Input::Created(n) => {
                regs.kind = InputKind::Created as i64;
                regs.text = u64::from(t.intern(&n));
            }
            Input::Failed(reason) => {
                regs.kind = InputKind::Failed as i64;
                regs.text = u64::from(t.intern(&reason));
            }
        }
        self.awaiting = None;
        self.terminator = None;
        self.ctx.input = regs;
    }

    /// Stores an answered record of type `rid` and returns its handle; fields
    /// the answer lacks, or that do not read as their type, are empty.
    fn add_answer(&mut self, rid: RecordId, fields: &[(String, Value)]) -> u64 {
        let rt = &self.program.shared.ir.records[rid.0 as usize];
        let mut raw = Vec::with_capacity(rt.fields.len());
        for (name, ty) in &rt.fields {
            let v = fields
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| value_to_raw(v, *ty, &mut self.ctx.texts));
            raw.push(v.unwrap_or_else(|| match ty {
                Type::Text | Type::Recording => u64::from(self.ctx.texts.intern("")),
                _ => 0,
            }));
        }
        self.ctx.add_record(RecordValue {
            record: rid.0,
            fields: raw,
        })
    }

    fn operand_text(&self, op: &Operand, args: &[u64]) -> String {
        match op {
            Operand::Text(s) => self.ctx.texts.get(*s).to_string(),
            Operand::Arg(i, ty) => {
                let raw = args.get(*i as usize).copied().unwrap_or(0);
                crate::value::raw_text(raw, *ty, &self.ctx.texts)
            }
        }
    }

    fn operand_value(&self, op: &Operand, args: &[u64]) -> Value {
        match op {
            Operand::Text(s) => Value::Text(self.ctx.texts.get(*s).to_string()),
            Operand::Arg(i, ty) => {
                let raw = args.get(*i as usize).copied().unwrap_or(0);
                raw_to_value(raw, *ty, &self.ctx.texts)
            }
        }
    }

    fn prompt(&self, p: &PromptIr, args: &[u64]) -> (Prompt, Option<bool>) {
        match p {
            PromptIr::Play { files, barge_in } => (
                Prompt::Files(files.iter().map(|f| self.operand_text(f, args)).collect()),
                *barge_in,
            ),
            PromptIr::Say {
                translations,
                voice,
                rate,
                barge_in,
            } => {
                let lang = self
                    .program
                    .shared
                    .ir
                    .languages
                    .get(self.ctx.language as usize)
                    .cloned();
                let items = translations
                    .iter()
                    .find(|(l, _)| l.is_some() && *l == lang)
                    .or_else(|| translations.first())
                    .map(|(_, items)| items.as_slice())
                    .unwrap_or(&[]);
                let speech = items
                    .iter()
                    .map(|it| {
                        let v = self.operand_value(&it.value, args);
                        match it.kind {
                            SayKind::Money => Speech::Money(num(&v)),
                            SayKind::Number => Speech::Number(num(&v)),
                            SayKind::Digits => Speech::Digits(v.to_text()),
                            SayKind::Date => match v {
                                Value::Date(d) => Speech::Date(d),
                                Value::DateTime(d) => Speech::Date(d.date()),
                                other => Speech::Text(other.to_text()),
                            },
                            SayKind::Time => match v {
                                Value::Time(t) => Speech::Time(t),
                                Value::DateTime(d) => {
                                    Speech::Time(chrono::Timelike::num_seconds_from_midnight(&d))
                                }
                                other => Speech::Text(other.to_text()),
                            },
                            // A date and time said plainly is read as one, not
                            // as its digits.
                            SayKind::Plain => match v {
                                Value::DateTime(d) => Speech::DateTime(d),
                                other => Speech::Text(other.to_text()),
                            },
                        }
                    })
                    .collect();
                (
                    Prompt::Speech {
                        items: speech,
                        voice: voice.clone(),
                        rate: *rate,
                    },
                    *barge_in,
                )
            }
        }
    }

    fn build_command(&mut self, template: TemplateId, args: &[u64]) -> Command {
        let shared = self.program.shared.clone();
        let Some(t) = shared.ir.templates.get(template as usize) else {
            return Command::Failed {
                message: "internal error: no such command template".into(),
                location: String::new(),
            };
        };
        self.node = t.node.clone();
        self.location = shared.ir.location(t.loc);
        let attempt_of = |op: &Operand| match op {
            Operand::Arg(i, _) => args.get(*i as usize).copied().unwrap_or(1) as u32,
            Operand::Text(_) => 1,
        };
        match &t.kind {
            TemplateKind::Prompt(p) => {
                let (prompt, barge) = self.prompt(p, args);
                Command::Play {
                    prompt,
                    barge_in: barge.unwrap_or(false),
                }
            }
            TemplateKind::Menu {
                name,
                prompts,
                keys,
                phrases,
                options,
                attempt,
            } => Command::Menu {
                name: name.clone(),
                prompts: prompts.iter().map(|p| self.prompt(p, args).0).collect(),
                keys: keys.clone(),
                phrases: phrases.clone(),
                timeout_ms: options.timeout_ms,
                digit_timeout_ms: options.digit_timeout_ms,
                barge_in: options.barge_in,
                speech: options.speech,
                confidence: options.confidence,
                attempt: attempt_of(attempt),
            },
            TemplateKind::Collect {
                name,
                prompts,
                min,
                max,
                terminator,
                options,
                mask,
                attempt,
            } => {
                self.terminator = *terminator;
                Command::Collect {
                    name: name.clone(),
                    prompts: prompts.iter().map(|p| self.prompt(p, args).0).collect(),
                    min: *min,
                    max: *max,
                    terminator: *terminator,
                    timeout_ms: options.timeout_ms,
                    digit_timeout_ms: options.digit_timeout_ms,
                    barge_in: options.barge_in,
                    speech: options.speech,
                    confidence: options.confidence,
                    mask: *mask,
                    attempt: attempt_of(attempt),
                }
            }
            TemplateKind::Lookup {
                service,
                operation,
                timeout_ms,
            } => {
                let svc = &shared.ir.services[*service as usize];
                let op = &svc.operations[*operation as usize];
                self.awaiting = Some((op.record, op.list));
                let params: Vec<(String, Value)> = op
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, (n, ty))| {
                        let raw = args.get(i).copied().unwrap_or(0);
                        (n.clone(), raw_to_value(raw, *ty, &self.ctx.texts))
                    })
                    .collect();
                let mut path = op.path.clone();
                for (n, v) in &params {
                    path = path.replace(&format!("{{{n}}}"), &url_escape(&v.to_text()));
                }
                Command::Lookup {
                    service: svc.name.clone(),
                    operation: op.name.clone(),
                    method: op.method,
                    url: format!("{}{}", svc.url.trim_end_matches('/'), path),
                    params,
                    timeout_ms: *timeout_ms,
                    list: op.list,
                    not_found: svc.not_found,
                }
            }
            TemplateKind::Record {
                max_ms,
                silence_ms,
                terminator,
                beep,
            } => Command::Record {
                max_ms: *max_ms,
                silence_ms: *silence_ms,
                terminator: *terminator,
                beep: *beep,
            },
            TemplateKind::CreateWorkorder { workorder, fields } => {
                let w = &shared.ir.workorders[*workorder as usize];
                let values = fields
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let ty = w
                            .fields
                            .iter()
                            .find(|f| &f.name == name)
                            .map(|f| f.ty)
                            .unwrap_or(Type::Text);
                        let raw = args.get(i).copied().unwrap_or(0);
                        (name.clone(), raw_to_value(raw, ty, &self.ctx.texts))
                    })
                    .collect();
                Command::CreateWorkorder {
                    kind: w.name.clone(),
                    fields: values,
                }
            }
            TemplateKind::LookupWorkorder { workorder, record } => {
                self.awaiting = Some((*record, false));
                let raw = args.first().copied().unwrap_or(0);
                Command::LookupWorkorder {
                    kind: shared.ir.workorders[*workorder as usize].name.clone(),
                    number: crate::value::raw_text(raw, Type::Text, &self.ctx.texts),
                }
            }
            TemplateKind::TransitionWorkorder { order, to, comment } => {
                Command::TransitionWorkorder {
                    number: self.operand_text(order, args),
                    to: to.clone(),
                    comment: comment.as_ref().map(|c| self.operand_text(c, args)),
                }
            }
            TemplateKind::Notify {
                channel,
                to,
                subject,
                body,
                attachment,
            } => Command::Notify {
                channel: *channel,
                to: self.operand_text(to, args),
                subject: subject.as_ref().map(|s| self.operand_text(s, args)),
                body: self.operand_text(body, args),
                attachment: attachment.as_ref().map(|a| self.operand_text(a, args)),
            },
            TemplateKind::Transfer {
                dest,
                timeout_ms,
                via,
                caller_id,
                priority,
                has_fallback: _,
            } => Command::Transfer {
                to: match dest {
                    TransferDest::Queue(q) => Transfer::Queue(q.clone()),
                    TransferDest::Flow(f) => Transfer::Flow(f.clone()),
                    TransferDest::Agent(a) => Transfer::Agent(self.operand_text(a, args)),
                    TransferDest::Number(n) => Transfer::Number(self.operand_text(n, args)),
                },
                timeout_ms: *timeout_ms,
                via: via.clone(),
                caller_id: caller_id.clone(),
                priority: *priority,
            },
            TemplateKind::Pause => Command::Pause {
                ms: args.first().copied().unwrap_or(0) as i64,
            },
        }
    }

    /// The IVR step the last command came from (menu name, `play`, ...).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Where in the flow text the last command came from (`file:line:col`).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The call's current language code.
    pub fn language(&self) -> &str {
        self.program
            .shared
            .ir
            .languages
            .get(self.ctx.language as usize)
            .map(String::as_str)
            .unwrap_or("zh")
    }

    /// The call data, by field name.
    pub fn data(&self) -> Vec<(String, Value)> {
        self.program
            .shared
            .ir
            .calldata
            .iter()
            .zip(&self.ctx.data)
            .map(|(f, raw)| (f.name.clone(), raw_to_value(*raw, f.ty, &self.ctx.texts)))
            .collect()
    }

    /// Sets a call-data field (from the CTI API); false when the name or type is wrong.
    pub fn set_data(&mut self, name: &str, value: &Value) -> bool {
        let fields = &self.program.shared.ir.calldata;
        let Some(i) = fields.iter().position(|f| f.name == name) else {
            return false;
        };
        match value_to_raw(value, fields[i].ty, &mut self.ctx.texts) {
            Some(raw) => {
                self.ctx.data[i] = raw;
                true
            }
            None => false,
        }
    }

    /// The flow's variables in the current frame (for tests and debugging).
    pub fn variables(&self) -> Vec<(String, Value)> {
        let Some(frame) = self.frames.last() else {
            return Vec::new();
        };
        let f = &self.program.shared.ir.flows[frame.flow as usize];
        f.slots
            .iter()
            .zip(&frame.slots)
            .filter(|((n, _), _)| !n.starts_with('%'))
            .map(|((n, ty), raw)| {
                let v = match ty {
                    Type::Record(_) => {
                        let rec = (*raw != 0)
                            .then(|| self.ctx.records.get(*raw as usize - 1))
                            .flatten();
                        Value::Record(rec.map(|r| {
                            let rt = &self.program.shared.ir.records[r.record as usize];
                            rt.fields
                                .iter()
                                .zip(&r.fields)
                                .map(|((fname, fty), v)| {
                                    (fname.clone(), raw_to_value(*v, *fty, &self.ctx.texts))
                                })
                                .collect()
                        }))
                    }
                    Type::RecordList(_) => {
                        Value::Text(format!("{} records", self.ctx.item_count(*raw)))
                    }
                    other => raw_to_value(*raw, *other, &self.ctx.texts),
                };
                (n.clone(), v)
            })
            .collect()
    }

    /// Whether the flow has ended.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes of per-call state: slots, call data, texts and records made so far.
    pub fn state_bytes(&self) -> usize {
        let slots: usize = self.frames.iter().map(|f| f.slots.len() * 8 + 32).sum();
        let records: usize = self
            .ctx
            .records
            .iter()
            .map(|r| r.fields.len() * 8 + 32)
            .sum();
        std::mem::size_of::<FlowInstance>()
            + slots
            + self.ctx.data.len() * 8
            + records
            + self.ctx.texts.local_bytes()
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Text(t) => t.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A record of a batch whose evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {record}: {message} ({location})")]
pub struct BatchError {
    /// Its index in the batch.
    pub record: usize,
    /// What went wrong.
    pub message: String,
    /// Where in the source (file:line:col).
    pub location: String,
}

/// Evaluates predicates: priorities, announcement and overflow conditions, campaign
/// filters, workorder guards.
pub struct Evaluator {
    program: Program,
    ctx: ExecCtx,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").finish()
    }
}

impl Evaluator {
    /// Interns a text for use in an environment vector.
    pub fn intern(&mut self, s: &str) -> u64 {
        u64::from(self.ctx.texts.intern(s))
    }

    /// Converts a value to a raw environment entry of type `ty`.
    pub fn raw(&mut self, v: &Value, ty: Type) -> Option<u64> {
        value_to_raw(v, ty, &mut self.ctx.texts)
    }

    /// Forgets the answers remembered per text (the native code's list
    /// memberships, 4 bytes per text and list), releasing their memory; they are
    /// worked out again when next needed.
    pub fn forget_remembered(&mut self) {
        self.ctx.texts.memo.clear();
    }

    /// Bytes held by the answers remembered per text.
    pub fn remembered_bytes(&self) -> usize {
        self.ctx.texts.memo.bytes()
    }

    /// Sets the evaluation time (Unix ms) for `now()`, `today()`, lists with windows.
    pub fn set_now(&mut self, now_ms: i64) {
        self.ctx.now_ms = now_ms;
    }

    /// Evaluates a predicate over a raw environment vector.
    pub fn eval_raw(&mut self, pred: PredId, env: &[u64]) -> Result<u64, (String, String)> {
        self.ctx.error = None;
        self.ctx.budget = STEP_BUDGET;
        let v = self
            .program
            .backend
            .eval_predicate(pred, &mut self.ctx, env);
        match self.ctx.error.take() {
            Some(e) => Err((e.message, self.program.shared.ir.location(e.loc))),
            None => Ok(v),
        }
    }

    /// Evaluates a predicate over many records laid out back to back, `width`
    /// raw values each in the predicate's layout (a campaign filter over a
    /// call list): one raw result per record is pushed to `out`. Stops at the
    /// first record whose evaluation fails and returns its index with the
    /// error; the results before it are in `out`, and the caller may go on
    /// with the records after it.
    pub fn eval_batch(
        &mut self,
        pred: PredId,
        records: &[u64],
        width: usize,
        out: &mut Vec<u64>,
    ) -> Result<(), BatchError> {
        self.ctx.error = None;
        let done =
            self.program
                .backend
                .eval_predicate_batch(pred, &mut self.ctx, records, width, out);
        match self.ctx.error.take() {
            Some(e) => Err(BatchError {
                record: done,
                message: e.message,
                location: self.program.shared.ir.location(e.loc),
            }),
            None => Ok(()),
        }
    }

    /// Evaluates a boolean predicate.
    pub fn eval_bool(&mut self, pred: PredId, env: &[u64]) -> Result<bool, (String, String)> {
        self.eval_raw(pred, env).map(|v| v != 0)
    }

    /// Evaluates a numeric predicate.
    pub fn eval_number(&mut self, pred: PredId, env: &[u64]) -> Result<f64, (String, String)> {
        self.eval_raw(pred, env).map(f64::from_bits)
    }

    /// Builds the environment of a predicate from named values (missing ones are 0/"").
    pub fn env(&mut self, pred: PredId, lookup: impl Fn(&EnvVar) -> Option<Value>) -> Vec<u64> {
        let vars = self.program.shared.ir.predicates[pred as usize]
            .vars
            .clone();
        vars.iter()
            .map(|(var, ty)| {
                lookup(var)
                    .and_then(|v| value_to_raw(&v, *ty, &mut self.ctx.texts))
                    .unwrap_or_else(|| match ty {
                        Type::Text | Type::Recording => u64::from(self.ctx.texts.intern("")),
                        _ => 0,
                    })
            })
            .collect()
    }

    /// Clears texts made by earlier evaluations (call between large batches).
    pub fn reset(&mut self) {
        self.ctx = ExecCtx::new(self.program.shared.clone());
    }
}
