//! Parsing: the pest grammar (`dialect.pest`) and the conversion of its pairs into
//! the owned [`ast`](crate::ast). Pest never leaks out of this module: syntax errors
//! become [`Diagnostic`]s that name what was expected in an analyst's words, and a
//! file with several broken declarations reports each of them.

use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::literal::{parse_clock, parse_duration};

mod grammar {
    //! The parser pest generates from `dialect.pest`.
    #![allow(missing_docs, unreachable_pub)]

    #[derive(pest_derive::Parser)]
    #[grammar = "dialect.pest"]
    pub struct DialectParser;
}

use grammar::{DialectParser, Rule};

/// Words that start a top-level declaration; a line starting with one at column 1
/// is where parsing resumes after a syntax error.
pub const TOP_LEVEL_KEYWORDS: &[&str] = &[
    "import",
    "const",
    "languages",
    "calldata",
    "skill",
    "department",
    "agent",
    "list",
    "calendar",
    "service",
    "flow",
    "queue",
    "campaign",
    "workorder",
];

/// Words of the language that cannot be used as names.
pub const RESERVED_WORDS: &[&str] = &[
    "flow",
    "queue",
    "campaign",
    "workorder",
    "calendar",
    "list",
    "service",
    "skill",
    "agent",
    "department",
    "import",
    "const",
    "calldata",
    "languages",
    "play",
    "say",
    "menu",
    "collect",
    "if",
    "else",
    "match",
    "goto",
    "repeat",
    "return",
    "lookup",
    "record",
    "create",
    "notify",
    "transfer",
    "hangup",
    "pause",
    "language",
    "true",
    "false",
    "and",
    "or",
    "not",
    "in",
    "call",
    "data",
    "on",
    "money",
    "digits",
    "number",
    "date",
    "time",
    "none",
];

/// Hands out project-wide expression ids.
#[derive(Debug, Default)]
pub struct IdGen {
    next: u32,
}

impl IdGen {
    /// A fresh id.
    pub fn next_id(&mut self) -> ExprId {
        let id = ExprId(self.next);
        self.next += 1;
        id
    }

    /// How many ids were handed out.
    pub fn count(&self) -> u32 {
        self.next
    }
}

/// Parses one file. Returns the module (with every declaration that parsed) and the
/// syntax and literal errors found.
pub fn parse_module(file: FileId, text: &str, ids: &mut IdGen) -> (Module, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut items = Vec::new();
    if let Some(d) = too_complex(file, text) {
        return (Module { file, items }, vec![d]);
    }
    match DialectParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let mut b = Builder {
                file,
                offset: 0,
                ids,
                diags: &mut diags,
            };
            if let Some(f) = pairs.next() {
                b.items(f, &mut items);
            }
        }
        Err(_) => {
            // Parse each top-level declaration on its own so that every broken one is reported.
            let starts = declaration_starts(text);
            for (i, &start) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(text.len());
                let chunk = &text[start..end];
                match DialectParser::parse(Rule::file, chunk) {
                    Ok(mut pairs) => {
                        let mut b = Builder {
                            file,
                            offset: start,
                            ids,
                            diags: &mut diags,
                        };
                        if let Some(f) = pairs.next() {
                            b.items(f, &mut items);
                        }
                    }
                    Err(e) => diags.push(syntax_error(file, start, chunk, text.len(), &e)),
                }
            }
        }
    }
    (Module { file, items }, diags)
}

/// Deepest nesting of brackets, blocks and text interpolations a file may have.
pub const MAX_NESTING: usize = 48;
/// Most `else if` a file may have (each one nests a level deeper).
pub const MAX_ELSE_IF: usize = 300;
/// Most operands one chain of operators may have (`a + b + c ...`).
pub const MAX_OPERANDS: usize = 256;
/// Most prefix operators in a row (`not not x`).
pub const MAX_PREFIX: usize = 8;

/// Rejects inputs nested so deeply that parsing or checking them would exhaust the
/// stack: bracket depth (outside texts and comments) and `else if` chains.
fn too_complex(file: FileId, text: &str) -> Option<Diagnostic> {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Text,
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Mode> = vec![Mode::Code];
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let top = stack.last().unwrap_or(&Mode::Code);
        if *top == Mode::Text {
            match c {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'{' => stack.push(Mode::Code),
                b'\n' => {
                    stack.pop();
                }
                _ => {}
            }
        } else {
            match c {
                b'"' => stack.push(Mode::Text),
                b'(' | b'[' | b'{' => stack.push(Mode::Code),
                b')' | b']' | b'}' if stack.len() > 1 => {
                    stack.pop();
                }
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => {}
            }
        }
        if stack.len() > MAX_NESTING {
            return Some(
                Diagnostic::error(
                    "too-complex",
                    Span::new(file, i, i + 1),
                    format!("this is nested more than {MAX_NESTING} levels deep"),
                )
                .with_hint("split the flow into sub-flows, or the expression into named steps"),
            );
        }
        i += 1;
    }
    let else_ifs = text
        .match_indices("else")
        .filter(|(at, _)| text[at + 4..].trim_start().starts_with("if"));
    if let Some((at, _)) = else_ifs.clone().nth(MAX_ELSE_IF) {
        return Some(
            Diagnostic::error(
                "too-complex",
                Span::new(file, at, at + 4),
                format!("this file has more than {MAX_ELSE_IF} `else if`"),
            )
            .with_hint("use `match` for long lists of cases"),
        );
    }
    None
}

/// Byte offsets where top-level declarations start (line starts at column 1 with a
/// declaration keyword), always including 0.
fn declaration_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > 0 {
            let word: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if TOP_LEVEL_KEYWORDS.contains(&word.as_str()) && looks_like_declaration(&word, line) {
                starts.push(offset);
            }
        }
        offset += line.len();
    }
    starts
}

/// Whether a line starting with a top-level keyword starts a declaration rather than
/// a clause that happens to begin at column 1 (`calendar cn` inside a campaign,
/// `agent policy (...)` inside a queue).
fn looks_like_declaration(word: &str, line: &str) -> bool {
    let rest = line[word.len()..].trim_start();
    match word {
        "agent" => rest.starts_with('"'),
        "calendar" | "list" | "flow" | "queue" | "campaign" | "workorder" | "service" => {
            line.contains('{') || word == "flow" && rest.contains('(')
        }
        _ => true,
    }
}

/// Words an analyst knows for each grammar rule that can appear in "expected ...".
fn describe_rule(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        EOI => "the end of the file",
        import_decl | const_decl | languages_decl | calldata_decl | skill_decl
        | department_decl | agent_decl | list_decl | calendar_decl | service_decl | flow_decl
        | queue_decl | campaign_decl | workorder_decl => {
            "a declaration (flow, queue, campaign, workorder, calendar, list, service, skill, ...)"
        }
        ident | name | list_ref => "a name",
        word | field_name => "a name",
        number => "a number",
        percent => "a percentage such as 80%",
        duration => "a duration such as 5s, 2m or 1h30m",
        clock => "a clock time such as 08:30",
        date => "a date such as 2026-10-01",
        date_span | date_spans => "a date or a date range such as 2026-02-15..2026-02-23",
        boolean => "true or false",
        text | label_text => "a text in double quotes",
        expr | or_expr | and_expr | not_expr | cmp_expr | add_expr | mul_expr | unary_expr
        | postfix_expr | paren_expr | func_call | list_literal | data_ref => "a value",
        op_or | op_and => "and / or",
        op_cmp => "a comparison such as == or <",
        op_in | op_not_in => "in",
        op_add | op_mul => "an operator such as + or *",
        cond_q => "?",
        options => "options in parentheses such as (timeout 5s)",
        option | option_name => "an option name",
        option_value => "an option value",
        type_name | enum_type => "a type such as text, number, bool, duration, date or time",
        typed_field => "a field such as `name: text`",
        destination | dest_queue | dest_flow | dest_agent | dest_number | dest_callback
        | dest_hangup => {
            "a destination (queue X, flow X, agent \"id\", number \"...\", callback or hangup)"
        }
        weekday | weekday_range | weekdays | every_day => "days such as mon-fri or daily",
        time_range | time_ranges => "a time range such as 08:00-20:00",
        block => "a block in { }",
        stmt | play_stmt | say_stmt | menu_stmt | if_stmt | match_stmt | goto_stmt
        | repeat_stmt | return_stmt | notify_stmt | transfer_stmt | hangup_stmt | pause_stmt
        | language_stmt | call_stmt | data_assign | label_stmt | assign_stmt | block_stmt
        | on_error => "a statement (play, say, menu, if, transfer, hangup, name = ...)",
        menu_choice | choice_pattern | choice_key => "a key such as 1, * or #",
        input_handler | handler_kind => "`no input` or `no match`",
        handler_count | handler_final | ordinal => "an attempt number or `final`",
        action => "an action after `->`",
        say_kind => "money, digits, number, date or time",
        say_items | say_item => "something to say",
        say_translations | say_translation => "a language code followed by what to say",
        collect_expr => "collect",
        lookup_expr => "lookup service.operation(...)",
        lookup_else | transfer_else => "else { ... }",
        record_expr => "record",
        create_expr => "create workorder TYPE { ... }",
        call_expr => "call FLOW(...)",
        field_init => "a field such as `phone: caller`",
        notify_channel => "sms or email",
        queue_item | q_skills | q_strategy | q_priority | q_music | q_announce | q_max_wait
        | q_overflow | q_key | q_no_answer | q_agent_policy | q_wrap_up | q_hours
        | q_service_level => {
            "a queue rule (skills, strategy, priority, music, announce, max wait, overflow, key, no answer, wrap up, hours, service level)"
        }
        q_skill => "a skill such as billing >= 2",
        announce_what | announce_position | announce_wait => "position, wait or a prompt file",
        overflow_dir => "up or down",
        no_answer_action => "requeue first, requeue or next agent",
        campaign_item | c_list | c_filter | c_mode | c_calendar | c_window | c_retry | c_trunk
        | c_caller_id | c_media | c_dropped | c_allow | c_timezone => {
            "a campaign rule (list, filter, mode, calendar, window, retry, trunk, caller id, media, dropped, allow)"
        }
        c_field => "a field mapping such as `phone: phone <- \"手机号\"`",
        day_type => "workday, weekend or holiday",
        outcome => "busy, no answer, fax, invalid, machine or rejected",
        retry_rule | retry_never => "`every 10m max 3` or `never`",
        workorder_item | w_calendar | w_field | w_state | w_transition | w_links => {
            "a workorder part (field, state, transition, calendar, links)"
        }
        field_flag => "required or sensitive",
        state_flag => "initial or final",
        state_limit => "limit 4h",
        limit_clock => "business or wall",
        w_remind | w_escalate => "remind or escalate",
        remind_when => "`1h before`, `at limit` or `75% of limit`",
        transition_kind => "forward, return, reply, close or reopen",
        calendar_item | cal_timezone | cal_hours | cal_holiday | cal_workday => {
            "a calendar line (timezone, hours, holiday, workday)"
        }
        service_item | svc_url | svc_timeout | svc_operation => {
            "a service part (url, timeout, get/post operation)"
        }
        http_method => "get or post",
        list_category | list_entry => "a number in quotes or a category",
        agent_skills | agent_skill => "skills billing 3, ...",
        flow_params => "parameters in ( )",
        flow_returns => "-> TYPE",
        flow_numbers => "on \"number\"",
        skill_levels => "levels 1..5",
        calldata_field => "a field such as `level: number = 0`",
        range => "a range such as 1.0 to 2.5",
        key_literal => "# or *",
        valid_clause => "valid when ...",
        match_arm | match_else => "a match arm such as `1, 2 -> ...`",
        _ => return None,
    })
}

/// Turns a pest error into a diagnostic that says what was expected, in words.
fn syntax_error(
    file: FileId,
    offset: usize,
    chunk: &str,
    full_len: usize,
    err: &pest::error::Error<Rule>,
) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let found_end = token_end(chunk, pos);
    let found = &chunk[pos..found_end];
    let span = Span::new(file, offset + pos, offset + found_end.max(pos));
    let mut expected: Vec<&str> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        for r in positives {
            if let Some(d) = describe_rule(*r)
                && !expected.contains(&d)
            {
                expected.push(d);
            }
        }
    }
    prune_expected(&mut expected);
    let what = if found.is_empty() {
        "the end of the file".to_string()
    } else {
        format!("`{found}`")
    };
    if found.is_empty() && offset + chunk.len() < full_len {
        // The next declaration starts while this one is still open.
        let first_word = token_end(chunk, 0);
        let span = Span::new(file, offset, offset + first_word);
        return Diagnostic::error(
            "syntax",
            span,
            "this declaration is not finished when the next one starts: a `}` is missing",
        )
        .with_label("this declaration")
        .with_hint("check that every `{` has its `}` before the next declaration");
    }
    if RESERVED_WORDS.contains(&found)
        && expected.iter().any(|e| {
            e.starts_with("a statement") || e.starts_with("a name") || e.starts_with("a value")
        })
    {
        return Diagnostic::error(
            "reserved-word",
            span,
            format!("`{found}` is a word of the language and cannot be used as a name"),
        )
        .with_label("reserved word")
        .with_hint(format!(
            "choose another name, such as `{found}_1` or `my_{found}`"
        ));
    }
    let message = match expected.len() {
        0 => format!("I did not understand {what} here"),
        1 => format!("I expected {} here, but found {what}", expected[0]),
        _ => {
            let last = expected.len() - 1;
            format!(
                "I expected {} or {} here, but found {what}",
                expected[..last].join(", "),
                expected[last]
            )
        }
    };
    let mut d = Diagnostic::error("syntax", span, message).with_label("here");
    if found.starts_with('#') {
        d = d.with_hint("`#` starts a comment; write the key # followed by `->`, `|`, `,` or `)`");
    } else if found == "=" && expected.iter().any(|e| e.contains("operator")) {
        d = d.with_hint("to compare two values write `==`");
    } else if found.chars().next().is_some_and(|c| c.is_ascii_digit())
        && expected.iter().any(|e| e.contains("duration"))
    {
        d = d.with_hint("durations need a unit: ms, s, m, h or d (for example 5s)");
    } else if found.starts_with('\'') {
        d = d.with_hint("texts are written in double quotes: \"...\"");
    }
    d
}

/// Shortens the list of expected things: statements include names and blocks,
/// and operators are named once.
fn prune_expected(expected: &mut Vec<&'static str>) {
    const OPERATORS: [&str; 5] = [
        "?",
        "and / or",
        "in",
        "a comparison such as == or <",
        "an operator such as + or *",
    ];
    if expected.iter().any(|e| e.starts_with("a statement")) {
        expected.retain(|e| !matches!(*e, "a name" | "a block in { }" | "call FLOW(...)"));
    }
    if let Some(first) = expected.iter().position(|e| OPERATORS.contains(e)) {
        expected.retain(|e| !OPERATORS.contains(e));
        expected.insert(
            first.min(expected.len()),
            "an operator (such as ==, +, and)",
        );
    }
}

/// End of the token starting at `pos` (a word, a number, or one character).
fn token_end(s: &str, pos: usize) -> usize {
    let rest = &s[pos.min(s.len())..];
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return pos;
    };
    if first.is_alphanumeric() || first == '_' {
        let len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.' || *c == ':'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        pos + len
    } else if first == '"' {
        let len = rest[1..]
            .find(['"', '\n'])
            .map(|i| i + 2)
            .unwrap_or(rest.len());
        pos + len.min(rest.len())
    } else {
        pos + first.len_utf8()
    }
}

/// Clauses that may appear once in their declaration, with the word shown in messages.
fn single_clause(container: Rule, clause: Rule) -> Option<&'static str> {
    use Rule as R;
    Some(match (container, clause) {
        (R::queue_decl, R::q_strategy) => "strategy",
        (R::queue_decl, R::q_priority) => "priority",
        (R::queue_decl, R::q_music) => "music",
        (R::queue_decl, R::q_max_wait) => "max wait",
        (R::queue_decl, R::q_no_answer) => "no answer",
        (R::queue_decl, R::q_agent_policy) => "agent policy",
        (R::queue_decl, R::q_wrap_up) => "wrap up",
        (R::queue_decl, R::q_hours) => "hours",
        (R::queue_decl, R::q_service_level) => "service level",
        (R::campaign_decl, R::c_list) => "list",
        (R::campaign_decl, R::c_mode) => "mode",
        (R::campaign_decl, R::c_calendar) => "calendar",
        (R::campaign_decl, R::c_trunk) => "trunk",
        (R::campaign_decl, R::c_caller_id) => "caller id",
        (R::campaign_decl, R::c_media) => "media",
        (R::campaign_decl, R::c_dropped) => "dropped",
        (R::campaign_decl, R::c_timezone) => "timezone",
        (R::workorder_decl, R::w_calendar) => "calendar",
        (R::workorder_decl, R::w_links) => "links",
        (R::calendar_decl, R::cal_timezone) => "timezone",
        (R::service_decl, R::svc_url) => "url",
        (R::service_decl, R::svc_timeout) => "timeout",
        _ => return None,
    })
}

struct Builder<'a> {
    file: FileId,
    offset: usize,
    ids: &'a mut IdGen,
    diags: &'a mut Vec<Diagnostic>,
}

type P<'i> = Pair<'i, Rule>;

fn first<'i>(p: &P<'i>) -> Option<P<'i>> {
    p.clone().into_inner().next()
}

impl Builder<'_> {
    /// The span of a pair, without the white space and comments pest lets a rule
    /// swallow when it ends in an optional part that did not match.
    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        // A key token is exactly its text: its `#` is a key, never a trailing comment.
        let len = match p.as_rule() {
            Rule::choice_key | Rule::key_literal => s.as_str().len(),
            _ => trimmed_len(s.as_str()),
        };
        Span::new(
            self.file,
            self.offset + s.start(),
            self.offset + s.start() + len,
        )
    }

    fn ident(&self, p: P<'_>) -> Ident {
        // `name`, `list_ref` etc. wrap an ident: descend to the innermost text.
        let span = self.span(&p);
        Ident {
            name: p.as_str().trim().to_string(),
            span,
        }
    }

    fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, msg));
    }

    fn items(&mut self, file: P<'_>, out: &mut Vec<Item>) {
        for p in file.into_inner() {
            self.repeated_clauses(&p);
            if let Some(item) = self.item(p) {
                out.push(item);
            }
        }
    }

    /// Reports a clause written twice where only one is allowed (the tree keeps
    /// only the last one, so the first would be silently ignored).
    fn repeated_clauses(&mut self, decl: &P<'_>) {
        let container = decl.as_rule();
        let kind = match container {
            Rule::queue_decl => "queue",
            Rule::campaign_decl => "campaign",
            Rule::workorder_decl => "workorder",
            Rule::calendar_decl => "calendar",
            Rule::service_decl => "service",
            _ => return,
        };
        let mut seen: Vec<(Rule, Span)> = Vec::new();
        for clause in decl.clone().into_inner() {
            let Some(word) = single_clause(container, clause.as_rule()) else {
                continue;
            };
            let span = self.span(&clause);
            match seen.iter().find(|(r, _)| *r == clause.as_rule()) {
                Some((_, first)) => self.diags.push(
                    Diagnostic::error(
                        "duplicate-clause",
                        span,
                        format!("this {kind} already has a `{word}` line; only one is allowed"),
                    )
                    .with_label("second one")
                    .with_secondary(*first, "the first one is here")
                    .with_hint("keep one of them"),
                ),
                None => seen.push((clause.as_rule(), span)),
            }
        }
    }

    fn item(&mut self, p: P<'_>) -> Option<Item> {
        let span = self.span(&p);
        Some(match p.as_rule() {
            Rule::import_decl => {
                let t = self.text(first(&p)?);
                Item::Import(Import {
                    path: t.plain_lossy(),
                    path_span: t.span,
                    span,
                })
            }
            Rule::const_decl => {
                let mut it = p.into_inner();
                let name = self.ident(it.next()?);
                let value = self.expr(it.next()?);
                Item::Const(ConstDecl { name, value, span })
            }
            Rule::languages_decl => Item::Languages(LanguagesDecl {
                languages: p.into_inner().map(|i| self.ident(i)).collect(),
                span,
            }),
            Rule::calldata_decl => {
                let mut fields = Vec::new();
                for f in p.into_inner() {
                    let mut it = f.into_inner();
                    let name = self.ident(it.next()?);
                    let ty = self.type_expr(it.next()?);
                    let default = it.next().map(|e| self.expr(e));
                    fields.push(CallDataField { name, ty, default });
                }
                Item::CallData(CallDataDecl { fields, span })
            }
            Rule::skill_decl => {
                let mut names = Vec::new();
                let mut levels = None;
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::ident => names.push(self.ident(c)),
                        Rule::skill_levels => {
                            let s = self.span(&c);
                            let mut it = c.into_inner();
                            let a = self.whole_number(it.next()?);
                            let b = self.whole_number(it.next()?);
                            levels = Some((a, b, s));
                        }
                        _ => {}
                    }
                }
                Item::Skill(SkillDecl {
                    names,
                    levels,
                    span,
                })
            }
            Rule::department_decl => {
                let mut it = p.into_inner();
                let name = self.ident(it.next()?);
                let label = it.next().and_then(|l| first(&l)).map(|t| self.text(t));
                Item::Department(DepartmentDecl { name, label, span })
            }
            Rule::agent_decl => {
                let mut id = None;
                let mut label = None;
                let mut skills = Vec::new();
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::text => id = Some(self.text(c)),
                        Rule::label_text => label = first(&c).map(|t| self.text(t)),
                        Rule::agent_skills => {
                            for s in c.into_inner() {
                                let mut it = s.into_inner();
                                let skill = self.ident(it.next()?);
                                let level = it.next().map(|n| (self.num(&n), self.span(&n)));
                                skills.push(AgentSkill { skill, level });
                            }
                        }
                        _ => {}
                    }
                }
                Item::Agent(AgentDecl {
                    id: id?,
                    label,
                    skills,
                    span,
                })
            }
            Rule::list_decl => {
                let mut it = p.into_inner();
                let name = self.ident(it.next()?);
                let mut label = None;
                let mut entries = Vec::new();
                let mut categories = Vec::new();
                for c in it {
                    match c.as_rule() {
                        Rule::label_text => label = first(&c).map(|t| self.text(t)),
                        Rule::list_entry => entries.push(self.text(first(&c)?)),
                        Rule::list_category => {
                            let cspan = self.span(&c);
                            let mut ci = c.into_inner();
                            let cname = self.ident(ci.next()?);
                            let mut clabel = None;
                            let mut options = Vec::new();
                            let mut centries = Vec::new();
                            for x in ci {
                                match x.as_rule() {
                                    Rule::label_text => clabel = first(&x).map(|t| self.text(t)),
                                    Rule::options => options = self.options(x),
                                    Rule::list_entry => centries.push(self.text(first(&x)?)),
                                    _ => {}
                                }
                            }
                            categories.push(ListCategory {
                                name: cname,
                                label: clabel,
                                options,
                                entries: centries,
                                span: cspan,
                            });
                        }
                        _ => {}
                    }
                }
                Item::List(ListDecl {
                    name,
                    label,
                    entries,
                    categories,
                    span,
                })
            }
            Rule::calendar_decl => Item::Calendar(self.calendar(p)?),
            Rule::service_decl => Item::Service(self.service(p)?),
            Rule::flow_decl => Item::Flow(self.flow(p)?),
            Rule::queue_decl => Item::Queue(self.queue(p)?),
            Rule::campaign_decl => Item::Campaign(self.campaign(p)?),
            Rule::workorder_decl => Item::Workorder(self.workorder(p)?),
            _ => return None,
        })
    }

    // ------------------------------------------------------------ literals

    fn num(&mut self, p: &P<'_>) -> f64 {
        match p.as_str().trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v.abs() < 1e15 => v,
            _ => {
                let s = self.span(p);
                self.error(
                    "malformed-number",
                    s,
                    "this number is too large (numbers go up to 999999999999999)",
                );
                0.0
            }
        }
    }
    fn whole_number(&mut self, p: P<'_>) -> u32 {
        let v = self.num(&p);
        if v.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&v) {
            let s = self.span(&p);
            self.error("malformed-number", s, "I expected a whole number here");
            return 0;
        }
        v as u32
    }

    fn percent(&mut self, p: &P<'_>) -> f64 {
        let s = p.as_str().trim().trim_end_matches('%');
        s.parse::<f64>().map(|v| v / 100.0).unwrap_or_else(|_| {
            let sp = self.span(p);
            self.error("malformed-number", sp, "this percentage is malformed");
            0.0
        })
    }

    fn duration_lit(&mut self, p: P<'_>) -> DurationLit {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::number => {
                let v = self.num(&p);
                DurationLit {
                    millis: (v * 1000.0) as i64,
                    unitless: true,
                    span,
                }
            }
            _ => {
                let millis = parse_duration(p.as_str()).unwrap_or_else(|| {
                    self.error(
                        "malformed-duration",
                        span,
                        format!("`{}` is not a duration I can read", p.as_str()),
                    );
                    0
                });
                DurationLit {
                    millis,
                    unitless: false,
                    span,
                }
            }
        }
    }

    fn clock(&mut self, p: &P<'_>) -> u32 {
        let span = self.span(p);
        match parse_clock(p.as_str()) {
            Some(s) => s,
            None => {
                self.diags.push(
                    Diagnostic::error(
                        "malformed-time",
                        span,
                        format!("`{}` is not a clock time", p.as_str()),
                    )
                    .with_hint("clock times go from 00:00 to 24:00, with minutes below 60"),
                );
                0
            }
        }
    }

    fn date(&mut self, p: &P<'_>) -> chrono::NaiveDate {
        let span = self.span(p);
        match chrono::NaiveDate::parse_from_str(p.as_str(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                self.diags.push(
                    Diagnostic::error(
                        "malformed-date",
                        span,
                        format!("`{}` is not a date in the calendar", p.as_str()),
                    )
                    .with_hint("dates are written year-month-day, such as 2026-10-01"),
                );
                chrono::NaiveDate::default()
            }
        }
    }

    fn time_range(&mut self, p: P<'_>) -> TimeRange {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let from = it.next().map(|c| self.clock(&c)).unwrap_or(0);
        let to = it.next().map(|c| self.clock(&c)).unwrap_or(0);
        TimeRange { from, to, span }
    }

    fn time_ranges(&mut self, p: P<'_>) -> Vec<TimeRange> {
        p.into_inner()
            .filter(|c| c.as_rule() == Rule::time_range)
            .map(|c| self.time_range(c))
            .collect()
    }

    fn date_spans(&mut self, p: P<'_>) -> Vec<DateSpan> {
        let mut out = Vec::new();
        for ds in p.into_inner() {
            let span = self.span(&ds);
            let mut it = ds.into_inner();
            let Some(a) = it.next() else { continue };
            let from = self.date(&a);
            let to = match it.next() {
                Some(b) => self.date(&b),
                None => from,
            };
            if to < from {
                self.diags.push(
                    Diagnostic::error(
                        "malformed-date",
                        span,
                        "this date range ends before it starts",
                    )
                    .with_hint("write the earlier date first: 2026-02-15..2026-02-23"),
                );
            }
            out.push(DateSpan { from, to, span });
        }
        out
    }

    fn text(&mut self, p: P<'_>) -> Text {
        let span = self.span(&p);
        let mut parts: Vec<TextPart> = Vec::new();
        let inner = if p.as_rule() == Rule::label_text {
            p.into_inner().next()
        } else {
            Some(p)
        };
        if let Some(p) = inner {
            for part in p.into_inner() {
                match part.as_rule() {
                    Rule::text_chunk => push_lit(&mut parts, part.as_str()),
                    Rule::text_escape => {
                        let c = part.as_str().chars().nth(1).unwrap_or('\\');
                        let s = match c {
                            'n' => "\n".to_string(),
                            't' => "\t".to_string(),
                            other => other.to_string(),
                        };
                        push_lit(&mut parts, &s);
                    }
                    Rule::interpolation => {
                        if let Some(e) = first(&part) {
                            parts.push(TextPart::Expr(self.expr(e)));
                        }
                    }
                    _ => {}
                }
            }
        }
        Text { parts, span }
    }

    fn type_expr(&mut self, p: P<'_>) -> TypeExpr {
        let inner = first(&p).unwrap_or(p);
        match inner.as_rule() {
            Rule::enum_type => {
                let span = self.span(&inner);
                TypeExpr::Enum(inner.into_inner().map(|i| self.ident(i)).collect(), span)
            }
            _ => TypeExpr::Named(self.ident(inner)),
        }
    }

    fn typed_field(&mut self, p: P<'_>) -> Option<TypedField> {
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let ty = self.type_expr(it.next()?);
        Some(TypedField { name, ty })
    }

    fn options(&mut self, p: P<'_>) -> Vec<Opt> {
        let mut out = Vec::new();
        for o in p.into_inner() {
            let span = self.span(&o);
            let mut it = o.into_inner();
            let Some(n) = it.next() else { continue };
            let name_span = self.span(&n);
            let name = n
                .as_str()
                .split([' ', '-', '\t'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let value = it.next().and_then(|v| self.opt_value(v));
            out.push(Opt {
                name,
                name_span,
                value,
                span,
            });
        }
        out
    }

    fn opt_value(&mut self, p: P<'_>) -> Option<OptValue> {
        let v = first(&p)?;
        let span = self.span(&v);
        Some(match v.as_rule() {
            Rule::date => OptValue::Date(self.date(&v), span),
            Rule::time_range => OptValue::TimeRange(self.time_range(v)),
            Rule::clock => OptValue::Clock(self.clock(&v), span),
            Rule::duration => OptValue::Duration(self.duration_lit(v)),
            Rule::percent => OptValue::Percent(self.percent(&v), span),
            Rule::range => {
                let mut it = v.into_inner();
                let a = it.next().map(|x| self.num(&x)).unwrap_or(0.0);
                let b = it.next().map(|x| self.num(&x)).unwrap_or(0.0);
                OptValue::Range(a, b, span)
            }
            Rule::number => OptValue::Number(self.num(&v), span),
            Rule::text => OptValue::Text(self.text(v)),
            Rule::key_literal => OptValue::Key(v.as_str().chars().next().unwrap_or('#'), span),
            _ => return None,
        })
    }

    // ------------------------------------------------------------ expressions

    fn mk(&mut self, kind: ExprKind, span: Span) -> Expr {
        Expr {
            id: self.ids.next_id(),
            kind,
            span,
        }
    }

    fn expr(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr => {
                let mut it = p.into_inner();
                let Some(c) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let cond = self.expr(c);
                match (it.next(), it.next(), it.next()) {
                    (Some(_q), Some(a), Some(b)) => {
                        let a = self.expr(a);
                        let b = self.expr(b);
                        self.mk(
                            ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)),
                            span,
                        )
                    }
                    _ => cond,
                }
            }
            Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr => {
                let mut it = p.into_inner();
                let Some(f) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let mut lhs = self.expr(f);
                let mut operands = 1;
                while let (Some(op), Some(r)) = (it.next(), it.next()) {
                    operands += 1;
                    if operands > MAX_OPERANDS {
                        self.error(
                            "too-complex",
                            span,
                            format!("this expression has more than {MAX_OPERANDS} parts; split it into named steps"),
                        );
                        break;
                    }
                    let op = match op.as_str().trim() {
                        "or" => BinaryOp::Or,
                        "and" => BinaryOp::And,
                        "+" => BinaryOp::Add,
                        "-" => BinaryOp::Sub,
                        "*" => BinaryOp::Mul,
                        _ => BinaryOp::Div,
                    };
                    let rhs = self.expr(r);
                    let s = lhs.span.to(rhs.span);
                    lhs = self.mk(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), s);
                }
                lhs
            }
            Rule::not_expr | Rule::unary_expr => {
                let parts: Vec<_> = p.into_inner().collect();
                let mut ops = Vec::new();
                let mut inner = None;
                for c in parts {
                    match c.as_rule() {
                        Rule::op_not => ops.push((UnaryOp::Not, self.span(&c))),
                        Rule::op_neg => ops.push((UnaryOp::Neg, self.span(&c))),
                        _ => inner = Some(self.expr(c)),
                    }
                }
                if ops.len() > MAX_PREFIX {
                    self.error(
                        "too-complex",
                        span,
                        format!("more than {MAX_PREFIX} `not` or `-` in a row"),
                    );
                    ops.truncate(MAX_PREFIX);
                }
                let mut e = match inner {
                    Some(e) => e,
                    None => self.mk(ExprKind::Bool(false), span),
                };
                for (op, s) in ops.into_iter().rev() {
                    let sp = s.to(e.span);
                    e = self.mk(ExprKind::Unary(op, Box::new(e)), sp);
                }
                e
            }
            Rule::cmp_expr => {
                let mut it = p.into_inner();
                let Some(f) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let lhs = self.expr(f);
                match (it.next(), it.next()) {
                    (Some(op), Some(rhs)) => match op.as_rule() {
                        Rule::op_in | Rule::op_not_in => {
                            let negated = op.as_rule() == Rule::op_not_in;
                            let target = self.in_target(rhs);
                            self.mk(
                                ExprKind::In {
                                    value: Box::new(lhs),
                                    target,
                                    negated,
                                },
                                span,
                            )
                        }
                        _ => {
                            let op = match op.as_str() {
                                "==" => BinaryOp::Eq,
                                "!=" => BinaryOp::Ne,
                                "<=" => BinaryOp::Le,
                                ">=" => BinaryOp::Ge,
                                "<" => BinaryOp::Lt,
                                _ => BinaryOp::Gt,
                            };
                            let rhs = self.expr(rhs);
                            self.mk(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)
                        }
                    },
                    _ => lhs,
                }
            }
            Rule::postfix_expr => {
                let mut it = p.into_inner();
                let Some(f) = it.next() else {
                    return self.mk(ExprKind::Bool(false), span);
                };
                let mut e = self.expr(f);
                for (n, field) in it.enumerate() {
                    if n >= MAX_OPERANDS {
                        self.error("too-complex", span, "this chain of fields is too long");
                        break;
                    }
                    let name = self.ident(field);
                    let s = e.span.to(name.span);
                    e = self.mk(ExprKind::Field(Box::new(e), name), s);
                }
                e
            }
            Rule::paren_expr => match first(&p) {
                Some(e) => self.expr(e),
                None => self.mk(ExprKind::Bool(false), span),
            },
            Rule::date => {
                let d = self.date(&p);
                self.mk(ExprKind::Date(d), span)
            }
            Rule::clock => {
                let c = self.clock(&p);
                self.mk(ExprKind::Clock(c), span)
            }
            Rule::duration => {
                let d = self.duration_lit(p);
                self.mk(ExprKind::Duration(d.millis), span)
            }
            Rule::percent => {
                let v = self.percent(&p);
                self.mk(ExprKind::Percent(v), span)
            }
            Rule::number => {
                let v = self.num(&p);
                self.mk(ExprKind::Number(v), span)
            }
            Rule::boolean => self.mk(ExprKind::Bool(p.as_str() == "true"), span),
            Rule::text => {
                let t = self.text(p);
                self.mk(ExprKind::Text(t), span)
            }
            Rule::func_call => {
                let mut it = p.into_inner();
                let name = it.next().map(|n| self.ident(n));
                let args = it
                    .flat_map(|a| a.into_inner())
                    .map(|a| self.expr(a))
                    .collect();
                match name {
                    Some(n) => self.mk(ExprKind::Call(n, args), span),
                    None => self.mk(ExprKind::Bool(false), span),
                }
            }
            Rule::list_literal => {
                let items = p.into_inner().map(|a| self.expr(a)).collect();
                self.mk(ExprKind::List(items), span)
            }
            Rule::data_ref => {
                let f = first(&p).map(|f| self.ident(f));
                match f {
                    Some(f) => self.mk(ExprKind::Data(f), span),
                    None => self.mk(ExprKind::Bool(false), span),
                }
            }
            Rule::name => {
                let i = self.ident(p);
                self.mk(ExprKind::Name(i), span)
            }
            _ => match first(&p) {
                Some(e) => self.expr(e),
                None => self.mk(ExprKind::Bool(false), span),
            },
        }
    }

    fn in_target(&mut self, p: P<'_>) -> InTarget {
        let span = self.span(&p);
        let Some(inner) = first(&p) else {
            return InTarget::Values(Vec::new(), span);
        };
        match inner.as_rule() {
            Rule::list_literal => {
                let s = self.span(&inner);
                InTarget::Values(inner.into_inner().map(|a| self.expr(a)).collect(), s)
            }
            _ => {
                let mut it = inner.into_inner();
                let list = it.next().map(|l| self.ident(l)).unwrap_or(Ident {
                    name: String::new(),
                    span,
                });
                let category = it.next().map(|c| self.ident(c));
                InTarget::List { list, category }
            }
        }
    }

    // ------------------------------------------------------------ declarations

    fn calendar(&mut self, p: P<'_>) -> Option<CalendarDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut cal = CalendarDecl {
            name,
            label: None,
            timezone: None,
            hours: Vec::new(),
            holidays: Vec::new(),
            workdays: Vec::new(),
            span,
        };
        for c in it {
            let cspan = self.span(&c);
            match c.as_rule() {
                Rule::label_text => cal.label = first(&c).map(|t| self.text(t)),
                Rule::cal_timezone => cal.timezone = first(&c).map(|t| self.text(t)),
                Rule::cal_hours => {
                    let mut ci = c.into_inner();
                    let days = self.weekdays(ci.next()?);
                    let periods = self.time_ranges(ci.next()?);
                    cal.hours.push(WeeklyHours {
                        days,
                        periods,
                        span: cspan,
                    });
                }
                Rule::cal_holiday | Rule::cal_workday => {
                    let is_holiday = c.as_rule() == Rule::cal_holiday;
                    let mut sd = SpecialDays {
                        dates: Vec::new(),
                        label: None,
                        hours: None,
                        span: cspan,
                    };
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::date_spans => sd.dates = self.date_spans(x),
                            Rule::label_text => sd.label = first(&x).map(|t| self.text(t)),
                            Rule::cal_special_hours => {
                                sd.hours = Some(first(&x).map(|r| self.time_ranges(r))?)
                            }
                            _ => {}
                        }
                    }
                    if is_holiday {
                        cal.holidays.push(sd)
                    } else {
                        cal.workdays.push(sd)
                    }
                }
                _ => {}
            }
        }
        Some(cal)
    }

    fn weekdays(&mut self, p: P<'_>) -> Vec<DayRange> {
        let mut out = Vec::new();
        for c in p.into_inner() {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::every_day => out.push(DayRange {
                    from: 0,
                    to: 6,
                    span,
                }),
                Rule::weekday_range => {
                    let days: Vec<u8> = c.into_inner().map(|d| weekday_index(d.as_str())).collect();
                    let from = days.first().copied().unwrap_or(0);
                    let to = days.get(1).copied().unwrap_or(from);
                    out.push(DayRange { from, to, span });
                }
                _ => {}
            }
        }
        out
    }

    fn service(&mut self, p: P<'_>) -> Option<ServiceDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut svc = ServiceDecl {
            name,
            label: None,
            url: None,
            timeout: None,
            operations: Vec::new(),
            span,
        };
        for c in it {
            let cspan = self.span(&c);
            match c.as_rule() {
                Rule::label_text => svc.label = first(&c).map(|t| self.text(t)),
                Rule::svc_url => svc.url = first(&c).map(|t| self.text(t)),
                Rule::svc_timeout => svc.timeout = first(&c).map(|d| self.duration_lit(d)),
                Rule::svc_operation => {
                    let mut ci = c.into_inner();
                    let method = if ci.next()?.as_str() == "post" {
                        HttpMethod::Post
                    } else {
                        HttpMethod::Get
                    };
                    let name = self.ident(ci.next()?);
                    let path = self.text(ci.next()?);
                    let mut params = Vec::new();
                    let mut fields = Vec::new();
                    for x in ci {
                        match x.as_rule() {
                            Rule::typed_field => params.extend(self.typed_field(x)),
                            Rule::field_list => {
                                for f in x.into_inner() {
                                    fields.extend(self.typed_field(f));
                                }
                            }
                            _ => {}
                        }
                    }
                    svc.operations.push(ServiceOperation {
                        method,
                        name,
                        path,
                        params,
                        fields,
                        span: cspan,
                    });
                }
                _ => {}
            }
        }
        Some(svc)
    }

    fn flow(&mut self, p: P<'_>) -> Option<FlowDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut params = Vec::new();
        let mut returns = None;
        let mut label = None;
        let mut numbers = Vec::new();
        let mut body = None;
        for c in it {
            match c.as_rule() {
                Rule::flow_params => {
                    for f in c.into_inner() {
                        params.extend(self.typed_field(f));
                    }
                }
                Rule::flow_returns => returns = first(&c).map(|t| self.type_expr(t)),
                Rule::label_text => label = first(&c).map(|t| self.text(t)),
                Rule::flow_numbers => numbers = c.into_inner().map(|t| self.text(t)).collect(),
                Rule::block => body = Some(self.block(c)),
                _ => {}
            }
        }
        Some(FlowDecl {
            name,
            params,
            returns,
            label,
            numbers,
            body: body?,
            span,
        })
    }

    fn block(&mut self, p: P<'_>) -> Block {
        let span = self.span(&p);
        let stmts = p.into_inner().filter_map(|s| self.stmt(s)).collect();
        Block { stmts, span }
    }

    /// An action after `->`: a block, or one statement wrapped in a block.
    fn action(&mut self, p: P<'_>) -> Block {
        let span = self.span(&p);
        let Some(inner) = first(&p) else {
            return Block {
                stmts: Vec::new(),
                span,
            };
        };
        if inner.as_rule() == Rule::block {
            self.block(inner)
        } else {
            Block {
                stmts: self.stmt(inner).into_iter().collect(),
                span,
            }
        }
    }

    fn stmt(&mut self, p: P<'_>) -> Option<Stmt> {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::on_error => StmtKind::OnError(self.block(first(&p)?)),
            Rule::play_stmt => {
                let mut prompts = Vec::new();
                let mut options = Vec::new();
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::options => options = self.options(c),
                        _ => prompts.push(self.expr(c)),
                    }
                }
                StmtKind::Play { prompts, options }
            }
            Rule::say_stmt => {
                let mut content = SayContent::Items(Vec::new());
                let mut options = Vec::new();
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::options => options = self.options(c),
                        Rule::say_items => content = SayContent::Items(self.say_items(c)),
                        Rule::say_translations => {
                            let mut tr = Vec::new();
                            for t in c.into_inner() {
                                let mut ti = t.into_inner();
                                let lang = self.ident(ti.next()?);
                                let items = self.say_items(ti.next()?);
                                tr.push((lang, items));
                            }
                            content = SayContent::Translations(tr);
                        }
                        _ => {}
                    }
                }
                StmtKind::Say(Say { content, options })
            }
            Rule::menu_stmt => StmtKind::Menu(self.menu(p)?),
            Rule::assign_stmt => {
                let mut it = p.into_inner();
                let target = self.ident(it.next()?);
                let v = it.next()?;
                match v.as_rule() {
                    Rule::collect_expr => StmtKind::Collect {
                        target,
                        collect: self.collect(v),
                    },
                    Rule::lookup_expr => StmtKind::Lookup {
                        target,
                        lookup: self.lookup(v)?,
                    },
                    Rule::record_expr => StmtKind::Record {
                        target,
                        options: first(&v).map(|o| self.options(o)).unwrap_or_default(),
                    },
                    Rule::create_expr => {
                        let mut ci = v.into_inner();
                        let kind = self.ident(ci.next()?);
                        let mut fields = Vec::new();
                        for f in ci {
                            let mut fi = f.into_inner();
                            let name = self.ident(fi.next()?);
                            let value = self.expr(fi.next()?);
                            fields.push(FieldInit { name, value });
                        }
                        StmtKind::CreateWorkorder {
                            target,
                            kind,
                            fields,
                        }
                    }
                    Rule::call_expr => {
                        let (flow, args) = self.call_expr(v)?;
                        StmtKind::Call {
                            target: Some(target),
                            flow,
                            args,
                        }
                    }
                    _ => StmtKind::Assign {
                        target,
                        value: self.expr(v),
                    },
                }
            }
            Rule::call_stmt => {
                let (flow, args) = self.call_expr(first(&p)?)?;
                StmtKind::Call {
                    target: None,
                    flow,
                    args,
                }
            }
            Rule::data_assign => {
                let mut it = p.into_inner();
                let field = self.ident(it.next()?);
                let value = self.expr(it.next()?);
                StmtKind::SetData { field, value }
            }
            Rule::label_stmt => StmtKind::Label(self.ident(first(&p)?)),
            Rule::if_stmt => {
                let mut it = p.into_inner();
                let cond = self.expr(it.next()?);
                let then = self.block(it.next()?);
                let otherwise = it.next().and_then(|e| match e.as_rule() {
                    Rule::if_stmt => {
                        let es = self.span(&e);
                        let s = self.stmt(e)?;
                        Some(Block {
                            stmts: vec![s],
                            span: es,
                        })
                    }
                    _ => Some(self.block(e)),
                });
                StmtKind::If {
                    cond,
                    then,
                    otherwise,
                }
            }
            Rule::match_stmt => {
                let mut it = p.into_inner();
                let scrutinee = self.expr(it.next()?);
                let mut arms = Vec::new();
                for a in it {
                    let aspan = self.span(&a);
                    let mut patterns = Vec::new();
                    let mut action = None;
                    for x in a.into_inner() {
                        match x.as_rule() {
                            Rule::match_else => {}
                            Rule::action => action = Some(self.action(x)),
                            _ => patterns.push(self.expr(x)),
                        }
                    }
                    arms.push(MatchArm {
                        patterns,
                        action: action?,
                        span: aspan,
                    });
                }
                StmtKind::Match { scrutinee, arms }
            }
            Rule::goto_stmt => StmtKind::Goto(self.ident(first(&p)?)),
            Rule::repeat_stmt => StmtKind::Repeat,
            Rule::return_stmt => StmtKind::Return(first(&p).map(|e| self.expr(e))),
            Rule::hangup_stmt => StmtKind::Hangup,
            Rule::pause_stmt => StmtKind::Pause(self.expr(first(&p)?)),
            Rule::language_stmt => StmtKind::Language(self.ident(first(&p)?)),
            Rule::notify_stmt => {
                let mut it = p.into_inner();
                let channel = if it.next()?.as_str() == "sms" {
                    NotifyChannel::Sms
                } else {
                    NotifyChannel::Email
                };
                let to = self.expr(it.next()?);
                let mut subject = None;
                let mut body = None;
                for c in it {
                    match c.as_rule() {
                        Rule::notify_subject => subject = first(&c).map(|e| self.expr(e)),
                        _ => body = Some(self.expr(c)),
                    }
                }
                StmtKind::Notify {
                    channel,
                    to,
                    subject,
                    body: body?,
                }
            }
            Rule::transfer_stmt => {
                let mut it = p.into_inner();
                let dest = self.destination(it.next()?)?;
                let mut options = Vec::new();
                let mut otherwise = None;
                for c in it {
                    match c.as_rule() {
                        Rule::options => options = self.options(c),
                        Rule::transfer_else => otherwise = first(&c).map(|b| self.block(b)),
                        _ => {}
                    }
                }
                StmtKind::Transfer {
                    dest,
                    options,
                    otherwise,
                }
            }
            Rule::block_stmt => StmtKind::Block(self.block(first(&p)?)),
            _ => return None,
        };
        Some(Stmt { kind, span })
    }

    fn say_items(&mut self, p: P<'_>) -> Vec<SayItem> {
        let mut out = Vec::new();
        for item in p.into_inner() {
            let mut kind = SayKind::Plain;
            let mut value = None;
            for c in item.into_inner() {
                match c.as_rule() {
                    Rule::say_kind => {
                        kind = match c.as_str() {
                            "money" => SayKind::Money,
                            "digits" => SayKind::Digits,
                            "number" => SayKind::Number,
                            "date" => SayKind::Date,
                            _ => SayKind::Time,
                        }
                    }
                    _ => value = Some(self.expr(c)),
                }
            }
            if let Some(value) = value {
                out.push(SayItem { kind, value });
            }
        }
        out
    }

    fn call_expr(&mut self, p: P<'_>) -> Option<(Ident, Vec<Expr>)> {
        let mut it = p.into_inner();
        let flow = self.ident(it.next()?);
        let args = it.map(|a| self.expr(a)).collect();
        Some((flow, args))
    }

    fn handler(&mut self, p: P<'_>) -> Option<InputHandler> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let kind = it.next()?;
        let event = if kind.as_str().ends_with("input") {
            InputEvent::NoInput
        } else {
            InputEvent::NoMatch
        };
        let mut count = HandlerCount::Any;
        let mut action = None;
        for c in it {
            match c.as_rule() {
                Rule::handler_count => {
                    let inner = first(&c)?;
                    count = match inner.as_rule() {
                        Rule::handler_final => HandlerCount::Final,
                        Rule::ordinal => HandlerCount::Nth(match inner.as_str() {
                            "first" => 1,
                            "second" => 2,
                            _ => 3,
                        }),
                        _ => {
                            let n = self.whole_number(inner);
                            HandlerCount::Nth(n)
                        }
                    };
                }
                Rule::action => action = Some(self.action(c)),
                _ => {}
            }
        }
        Some(InputHandler {
            event,
            count,
            action: action?,
            span,
        })
    }

    fn menu(&mut self, p: P<'_>) -> Option<Menu> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut menu = Menu {
            name,
            options: Vec::new(),
            prompts: Vec::new(),
            choices: Vec::new(),
            handlers: Vec::new(),
            span,
        };
        for c in it {
            match c.as_rule() {
                Rule::options => menu.options = self.options(c),
                Rule::input_handler => menu.handlers.extend(self.handler(c)),
                Rule::play_stmt | Rule::say_stmt => menu.prompts.extend(self.stmt(c)),
                Rule::menu_choice => {
                    let cspan = self.span(&c);
                    let mut patterns = Vec::new();
                    let mut action = None;
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::choice_pattern => {
                                let inner = first(&x)?;
                                patterns.push(match inner.as_rule() {
                                    Rule::text => ChoicePattern::Phrase(self.text(inner)),
                                    _ => {
                                        let s = self.span(&inner);
                                        ChoicePattern::Keys(inner.as_str().to_string(), s)
                                    }
                                });
                            }
                            Rule::action => action = Some(self.action(x)),
                            _ => {}
                        }
                    }
                    menu.choices.push(MenuChoice {
                        patterns,
                        action: action?,
                        span: cspan,
                    });
                }
                _ => {}
            }
        }
        Some(menu)
    }

    fn collect(&mut self, p: P<'_>) -> Collect {
        let span = self.span(&p);
        let mut c = Collect {
            options: Vec::new(),
            prompts: Vec::new(),
            handlers: Vec::new(),
            valid: Vec::new(),
            span,
        };
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::options => c.options = self.options(x),
                Rule::input_handler => c.handlers.extend(self.handler(x)),
                Rule::valid_clause => {
                    if let Some(e) = first(&x) {
                        c.valid.push(self.expr(e));
                    }
                }
                Rule::play_stmt | Rule::say_stmt => c.prompts.extend(self.stmt(x)),
                _ => {}
            }
        }
        c
    }

    fn lookup(&mut self, p: P<'_>) -> Option<Lookup> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let service = self.ident(it.next()?);
        let operation = self.ident(it.next()?);
        let mut args = Vec::new();
        let mut options = Vec::new();
        let mut otherwise = None;
        for c in it {
            match c.as_rule() {
                Rule::options => options = self.options(c),
                Rule::lookup_else => otherwise = first(&c).map(|b| self.block(b)),
                _ => args.push(self.expr(c)),
            }
        }
        Some(Lookup {
            service,
            operation,
            args,
            options,
            otherwise,
            span,
        })
    }

    fn destination(&mut self, p: P<'_>) -> Option<Destination> {
        let d = first(&p)?;
        let span = self.span(&d);
        Some(match d.as_rule() {
            Rule::dest_queue => Destination::Queue(self.ident(first(&d)?)),
            Rule::dest_flow => Destination::Flow(self.ident(first(&d)?)),
            Rule::dest_agent => Destination::Agent(self.expr(first(&d)?)),
            Rule::dest_number => Destination::Number(self.expr(first(&d)?)),
            Rule::dest_callback => Destination::Callback(span),
            _ => Destination::Hangup(span),
        })
    }

    fn queue(&mut self, p: P<'_>) -> Option<QueueDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut q = QueueDecl {
            name,
            label: None,
            skills: Vec::new(),
            strategy: None,
            priority: None,
            music: None,
            announcements: Vec::new(),
            max_wait: None,
            overflows: Vec::new(),
            keys: Vec::new(),
            no_answer: None,
            agent_policy: Vec::new(),
            wrap_up: None,
            hours: None,
            service_level: None,
            span,
        };
        for c in it {
            let cspan = self.span(&c);
            match c.as_rule() {
                Rule::label_text => q.label = first(&c).map(|t| self.text(t)),
                Rule::q_skills => {
                    for s in c.into_inner() {
                        let mut si = s.into_inner();
                        let skill = self.ident(si.next()?);
                        let min_level = si.next().map(|n| (self.num(&n), self.span(&n)));
                        q.skills.push(QueueSkill { skill, min_level });
                    }
                }
                Rule::q_strategy => q.strategy = first(&c).map(|i| self.ident(i)),
                Rule::q_priority => q.priority = first(&c).map(|e| self.expr(e)),
                Rule::q_music => q.music = first(&c).map(|e| self.expr(e)),
                Rule::q_announce => {
                    let mut ci = c.into_inner();
                    let what_p = first(&ci.next()?)?;
                    let what = match what_p.as_rule() {
                        Rule::announce_position => AnnounceWhat::Position,
                        Rule::announce_wait => AnnounceWhat::Wait,
                        _ => AnnounceWhat::Prompt(self.expr(what_p)),
                    };
                    let every = self.duration_lit(ci.next()?);
                    let when = ci.next().map(|e| self.expr(e));
                    q.announcements.push(Announcement {
                        what,
                        every,
                        when,
                        span: cspan,
                    });
                }
                Rule::q_max_wait => {
                    let mut ci = c.into_inner();
                    let d = self.duration_lit(ci.next()?);
                    let dest = self.destination(ci.next()?)?;
                    q.max_wait = Some((d, dest, cspan));
                }
                Rule::q_overflow => {
                    let mut ci = c.into_inner();
                    let direction = if ci.next()?.as_str() == "up" {
                        OverflowDirection::Up
                    } else {
                        OverflowDirection::Down
                    };
                    let target = self.ident(ci.next()?);
                    let when = self.expr(ci.next()?);
                    q.overflows.push(Overflow {
                        direction,
                        target,
                        when,
                        span: cspan,
                    });
                }
                Rule::q_key => {
                    let mut ci = c.into_inner();
                    let k = ci.next()?;
                    let ks = self.span(&k);
                    let dest = self.destination(ci.next()?)?;
                    q.keys.push((k.as_str().to_string(), ks, dest));
                }
                Rule::q_no_answer => {
                    let mut ci = c.into_inner();
                    let timeout = self.duration_lit(ci.next()?);
                    let action = match ci.next()?.as_str() {
                        "requeue first" => NoAnswerAction::RequeueFirst,
                        "requeue" => NoAnswerAction::Requeue,
                        _ => NoAnswerAction::NextAgent,
                    };
                    q.no_answer = Some(NoAnswer {
                        timeout,
                        action,
                        span: cspan,
                    });
                }
                Rule::q_agent_policy => q.agent_policy = first(&c).map(|o| self.options(o))?,
                Rule::q_wrap_up => q.wrap_up = first(&c).map(|d| self.duration_lit(d)),
                Rule::q_hours => {
                    let mut ci = c.into_inner();
                    let cal = self.ident(ci.next()?);
                    let dest = self.destination(ci.next()?)?;
                    q.hours = Some((cal, dest, cspan));
                }
                Rule::q_service_level => {
                    let mut ci = c.into_inner();
                    let pct = self.percent(&ci.next()?);
                    let d = self.duration_lit(ci.next()?);
                    q.service_level = Some((pct, d, cspan));
                }
                _ => {}
            }
        }
        Some(q)
    }

    fn campaign(&mut self, p: P<'_>) -> Option<CampaignDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut c = CampaignDecl {
            name,
            label: None,
            list: None,
            filters: Vec::new(),
            mode: None,
            calendar: None,
            windows: Vec::new(),
            retries: Vec::new(),
            trunk: None,
            caller_id: None,
            media: None,
            dropped: None,
            allows: Vec::new(),
            timezone: None,
            span,
        };
        for x in it {
            let xspan = self.span(&x);
            match x.as_rule() {
                Rule::label_text => c.label = first(&x).map(|t| self.text(t)),
                Rule::c_list => {
                    let mut xi = x.into_inner();
                    let lname = self.ident(xi.next()?);
                    let source = self.text(xi.next()?);
                    let mut fields = Vec::new();
                    for f in xi {
                        let mut fi = f.into_inner();
                        let name = self.ident(fi.next()?);
                        let ty = self.type_expr(fi.next()?);
                        let col = self.text(fi.next()?);
                        fields.push((TypedField { name, ty }, col));
                    }
                    c.list = Some(CampaignList {
                        name: lname,
                        source,
                        fields,
                        span: xspan,
                    });
                }
                Rule::c_filter => c.filters.extend(first(&x).map(|e| self.expr(e))),
                Rule::c_mode => {
                    let mut xi = x.into_inner();
                    let mode = self.ident(xi.next()?);
                    let mut options = Vec::new();
                    let mut dest = None;
                    for y in xi {
                        match y.as_rule() {
                            Rule::options => options = self.options(y),
                            Rule::destination => dest = self.destination(y),
                            _ => {}
                        }
                    }
                    c.mode = Some(CampaignMode {
                        mode,
                        options,
                        dest,
                        span: xspan,
                    });
                }
                Rule::c_calendar => c.calendar = first(&x).map(|i| self.ident(i)),
                Rule::c_window => {
                    let mut xi = x.into_inner();
                    let day_type = match xi.next()?.as_str() {
                        "workday" => DayType::Workday,
                        "weekend" => DayType::Weekend,
                        _ => DayType::Holiday,
                    };
                    let periods = self.time_ranges(xi.next()?);
                    c.windows.push(CallWindow {
                        day_type,
                        periods,
                        span: xspan,
                    });
                }
                Rule::c_retry => {
                    let mut xi = x.into_inner();
                    let outcome = match xi.next()?.as_str() {
                        "busy" => Outcome::Busy,
                        "fax" => Outcome::Fax,
                        "invalid" => Outcome::Invalid,
                        "machine" => Outcome::Machine,
                        "rejected" => Outcome::Rejected,
                        _ => Outcome::NoAnswer,
                    };
                    let rule = xi.next()?;
                    let mut ri = rule.into_inner();
                    let every = match ri.next() {
                        Some(r) if r.as_rule() == Rule::retry_never => None,
                        Some(d) => {
                            let d = self.duration_lit(d);
                            let max = ri.next().map(|m| self.whole_number(m)).unwrap_or(0);
                            Some((d, max))
                        }
                        None => None,
                    };
                    c.retries.push(RetryRule {
                        outcome,
                        every,
                        span: xspan,
                    });
                }
                Rule::c_trunk => c.trunk = first(&x).map(|t| self.text(t)),
                Rule::c_caller_id => c.caller_id = first(&x).map(|t| self.text(t)),
                Rule::c_media => c.media = first(&x).map(|i| self.ident(i)),
                Rule::c_dropped => {
                    let mut xi = x.into_inner();
                    let prompt = self.expr(xi.next()?);
                    let within = xi.next().map(|d| self.duration_lit(d));
                    c.dropped = Some((prompt, within, xspan));
                }
                Rule::c_allow => {
                    let mut xi = x.into_inner();
                    let rule = self.ident(xi.next()?);
                    let reason = self.text(xi.next()?);
                    c.allows.push((rule, reason, xspan));
                }
                Rule::c_timezone => c.timezone = first(&x).map(|t| self.text(t)),
                _ => {}
            }
        }
        Some(c)
    }

    fn workorder(&mut self, p: P<'_>) -> Option<WorkorderDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut w = WorkorderDecl {
            name,
            label: None,
            calendar: None,
            fields: Vec::new(),
            states: Vec::new(),
            transitions: Vec::new(),
            links: Vec::new(),
            span,
        };
        for x in it {
            let xspan = self.span(&x);
            match x.as_rule() {
                Rule::label_text => w.label = first(&x).map(|t| self.text(t)),
                Rule::w_calendar => w.calendar = first(&x).map(|i| self.ident(i)),
                Rule::w_links => w.links = x.into_inner().map(|i| self.ident(i)).collect(),
                Rule::w_field => {
                    let mut xi = x.into_inner();
                    let name = self.ident(xi.next()?);
                    let ty = self.type_expr(xi.next()?);
                    let mut required = false;
                    let mut sensitive = false;
                    for f in xi {
                        match f.as_str() {
                            "required" => required = true,
                            _ => sensitive = true,
                        }
                    }
                    w.fields.push(WorkorderField {
                        name,
                        ty,
                        required,
                        sensitive,
                        span: xspan,
                    });
                }
                Rule::w_state => {
                    let mut xi = x.into_inner();
                    let name = self.ident(xi.next()?);
                    let mut st = WorkorderState {
                        name,
                        label: None,
                        initial: false,
                        is_final: false,
                        limit: None,
                        reminders: Vec::new(),
                        escalations: Vec::new(),
                        span: xspan,
                    };
                    for y in xi {
                        let yspan = self.span(&y);
                        match y.as_rule() {
                            Rule::label_text => st.label = first(&y).map(|t| self.text(t)),
                            Rule::state_flag => match y.as_str() {
                                "initial" => st.initial = true,
                                _ => st.is_final = true,
                            },
                            Rule::state_limit => {
                                let mut yi = y.into_inner();
                                let duration = self.duration_lit(yi.next()?);
                                let business = yi.next().is_some_and(|b| b.as_str() == "business");
                                st.limit = Some(StateLimit { duration, business });
                            }
                            Rule::w_remind => {
                                let mut yi = y.into_inner();
                                let when_p = yi.next()?;
                                let when = match first(&when_p) {
                                    Some(d) if d.as_rule() == Rule::duration => {
                                        RemindWhen::Before(self.duration_lit(d))
                                    }
                                    Some(pc) if pc.as_rule() == Rule::percent => {
                                        let s = self.span(&pc);
                                        RemindWhen::Fraction(self.percent(&pc), s)
                                    }
                                    _ => RemindWhen::AtLimit,
                                };
                                let to = yi.map(|i| self.ident(i)).collect();
                                st.reminders.push(Reminder {
                                    when,
                                    to,
                                    span: yspan,
                                });
                            }
                            Rule::w_escalate => {
                                let mut after = None;
                                let mut to = Vec::new();
                                for z in y.into_inner() {
                                    match z.as_rule() {
                                        Rule::duration => after = Some(self.duration_lit(z)),
                                        _ => to.push(self.ident(z)),
                                    }
                                }
                                st.escalations.push(Escalation {
                                    after,
                                    to,
                                    span: yspan,
                                });
                            }
                            _ => {}
                        }
                    }
                    w.states.push(st);
                }
                Rule::w_transition => {
                    let mut xi = x.into_inner();
                    let name = self.ident(xi.next()?);
                    let from = self.ident(xi.next()?);
                    let to = self.ident(xi.next()?);
                    let mut roles = Vec::new();
                    let mut kind = None;
                    let mut guard = None;
                    for y in xi {
                        match y.as_rule() {
                            Rule::word => roles.push(self.ident(y)),
                            Rule::transition_kind => {
                                kind = Some(match y.as_str() {
                                    "forward" => TransitionKind::Forward,
                                    "return" => TransitionKind::Return,
                                    "reply" => TransitionKind::Reply,
                                    "close" => TransitionKind::Close,
                                    _ => TransitionKind::Reopen,
                                })
                            }
                            _ => guard = Some(self.expr(y)),
                        }
                    }
                    w.transitions.push(Transition {
                        name,
                        from,
                        to,
                        roles,
                        kind,
                        guard,
                        span: xspan,
                    });
                }
                _ => {}
            }
        }
        Some(w)
    }
}

/// Length of `s` without trailing white space and trailing `#` comments.
fn trimmed_len(s: &str) -> usize {
    let mut end = s.len();
    loop {
        let t = s[..end].trim_end_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
        end = t.len();
        let line_start = t.rfind('\n').map_or(0, |i| i + 1);
        match comment_start(&t[line_start..]) {
            Some(at) => end = line_start + at,
            None => return end,
        }
    }
}

/// The grammar's rule for a `#` (given the text after it): it is a DTMF key, not a
/// comment, when DTMF keys and spaces lead to `->`, `|`, `,` or `)`.
pub fn hash_is_key(rest: &str) -> bool {
    let rest =
        rest.trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, 'A'..='D' | '*' | '#'));
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.starts_with("->")
        || rest.starts_with('|')
        || rest.starts_with(',')
        || rest.starts_with(')')
}

/// Where a `#` comment starts in one line, if it has one: a `#` outside text that
/// is not the DTMF key (followed by `->`, `|`, `,` or `)`).
fn comment_start(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut in_text = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_text => i += 1,
            b'"' => in_text = !in_text,
            b'#' if !in_text && !hash_is_key(&line[i + 1..]) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn push_lit(parts: &mut Vec<TextPart>, s: &str) {
    if let Some(TextPart::Lit(last)) = parts.last_mut() {
        last.push_str(s);
    } else {
        parts.push(TextPart::Lit(s.to_string()));
    }
}

fn weekday_index(s: &str) -> u8 {
    match s {
        "mon" => 0,
        "tue" => 1,
        "wed" => 2,
        "thu" => 3,
        "fri" => 4,
        "sat" => 5,
        _ => 6,
    }
}
