//! The analyst-facing wording of syntax errors: pest's "expected rule X" becomes
//! "I expected a duration such as 5s here, but found `5`", with a hint where a
//! common slip explains it, and a clause written twice where one is allowed is
//! reported instead of silently dropped.

use super::grammar::{RESERVED_WORDS, Rule};
use crate::ast::*;
use crate::diagnostic::Diagnostic;

/// Words an analyst knows for each grammar rule that can appear in "expected ...".
fn describe_rule(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        EOI => "the end of the file",
        import_decl | const_decl | languages_decl | calldata_decl | skill_decl
        | department_decl | agent_decl | list_decl | calendar_decl | service_decl | flow_decl
        | queue_decl | campaign_decl | workorder_decl | role_decl => {
            "a declaration (flow, queue, campaign, workorder, calendar, list, service, skill, ...)"
        }
        ident | name | list_ref => "a name",
        word | field_name => "a name",
        number => "a number",
        percent => "a percentage such as 80%",
        duration => "a duration such as 5s, 2m or 1h30m",
        clock => "a clock time such as 08:30",
        date => "a date such as 2026-10-01",
        datetime => "a date and time such as 2026-12-07 14:30",
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
        type_name | enum_type => {
            "a type such as text, number, bool, duration, date, time or datetime"
        }
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
        | on_error | for_stmt | wo_transition_stmt => {
            "a statement (play, say, menu, if, transfer, hangup, name = ...)"
        }
        for_each => "for each",
        not_found_action => "`answer` or `else` (what a 404 or an empty answer is)",
        svc_not_found => "not found -> answer",
        answer_list => "list of { ... }",
        key_offer => "offer \"file.wav\" every 1m",
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
        wo_lookup_expr => "lookup workorder TYPE(number)",
        wo_comment => "comment \"...\"",
        call_expr => "call FLOW(...)",
        field_init => "a field such as `phone: caller`",
        notify_channel => "sms or email",
        notify_attach | attach_word => "`attach` and a recording, such as `attach message`",
        queue_item | q_skills | q_strategy | q_priority | q_music | q_announce | q_max_wait
        | q_overflow | q_key | q_no_answer | q_agent_policy | q_wrap_up | q_hours
        | q_service_level => {
            "a queue rule (skills, strategy, priority, music, announce, max wait, overflow, key, no answer, wrap up, hours, service level)"
        }
        q_skill => "a skill such as billing >= 2",
        announce_what | announce_position | announce_wait => "position, wait or a prompt file",
        overflow_dir => "up or down",
        no_answer_action => "requeue first, requeue or next agent",
        campaign_item | c_list | c_list_orders | c_filter | c_mode | c_calendar | c_window
        | c_retry | c_trunk | c_caller_id | c_media | c_dropped | c_allow | c_timezone
        | c_max_attempts | per_day | c_disposition | disposition_retry | c_script | c_amd
        | amd_off => {
            "a campaign rule (list, filter, mode, calendar, window, retry, max attempts, trunk, caller id, media, dropped, allow, disposition, script, machine detection)"
        }
        c_field => "a field mapping such as `phone: phone <- \"手机号\"`",
        day_type => "workday, weekend or holiday",
        outcome => "busy, no answer, fax, invalid, machine or rejected",
        retry_rule | retry_never => "`every 10m max 3` or `never`",
        workorder_item | w_calendar | w_field | w_state | w_transition | w_links | w_trigger
        | w_span_limit => "a workorder part (field, state, transition, on enter, calendar, links)",
        t_notify | t_assign | t_call | t_subject => {
            "what happens on entering the state (notify sms|email to FIELD \"...\", assign ROLE, call FLOW(...) via campaign NAME)"
        }
        reason_required => "(reason required)",
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
/// `text` is what was parsed (one declaration after a first failure), `pos`
/// maps its offsets into the file, and `eof` says whether its end is the file's.
pub(super) fn syntax_error(
    file: FileId,
    text: &str,
    pos: &super::Positions<'_>,
    eof: bool,
    err: &pest::error::Error<Rule>,
) -> Diagnostic {
    use pest::error::ErrorVariant;
    let mut at = super::error_pos(err).min(text.len());
    let mut expected: Vec<&str> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    if let Some(pa) = err.parse_attempts()
        && pa.max_position > at
        && pa.max_position <= text.len()
    {
        // A literal such as `:` or `->` was expected further on than any rule:
        // name it, at that place.
        for t in pa.expected_tokens() {
            let token = t.to_string();
            // Literals only: white space and comments may stand anywhere, and
            // ranges such as `0..9` or built-in rules say little.
            if !token
                .trim_matches(['\u{FEFF}', '\u{3000}'])
                .trim()
                .is_empty()
                && token != "#"
                && !token.contains("..")
                && token != "BUILTIN_RULE"
                && !tokens.contains(&format!("`{token}`"))
            {
                tokens.push(format!("`{token}`"));
            }
        }
        if !tokens.is_empty() {
            at = pa.max_position;
        }
    }
    if tokens.is_empty()
        && let ErrorVariant::ParsingError { positives, .. } = &err.variant
    {
        for r in positives {
            if let Some(d) = describe_rule(*r)
                && !expected.contains(&d)
            {
                expected.push(d);
            }
        }
    }
    prune_expected(&mut expected);
    let mut expected: Vec<&str> = tokens.iter().map(String::as_str).chain(expected).collect();
    expected.dedup();
    let found_end = token_end(text, at);
    let found = &text[at..found_end];
    let span = Span::new(file, pos.orig(at), pos.orig(found_end.max(at)));
    let what = if found.trim().is_empty() {
        "the end of the file".to_string()
    } else {
        format!("`{found}`")
    };
    if found.trim().is_empty() && !eof {
        // The next declaration starts while this one is still open.
        let first_word = token_end(text, 0);
        let span = Span::new(file, pos.orig(0), pos.orig(first_word));
        return Diagnostic::error(
            "syntax",
            span,
            "this declaration is not finished when the next one starts",
        )
        .with_label("this declaration")
        .with_hint(
            "check that every `(` has its `)` and every `{` its `}` before the next declaration",
        );
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
    if let Some(form) = clause_form(found)
        && expected.iter().any(|e| e.contains(found))
    {
        // The clause's own word was expected and found: what follows it is wrong.
        return Diagnostic::error(
            "syntax",
            span,
            format!("I could not read this `{found}` line"),
        )
        .with_label("here")
        .with_hint(format!("it is written {form}"));
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
    let before = previous_word(text, at);
    if let Some(joined) = joined_name(before, found) {
        // `strategy longest idle`: a word of the language written in two.
        let start = pos.orig(at - (text[..at].len() - text[..at].trim_end().len()) - before.len());
        let span = Span::new(file, start, pos.orig(found_end));
        return Diagnostic::error(
            "syntax",
            span,
            format!("`{before} {found}` is one word: did you mean `{joined}`?"),
        )
        .with_label("two words")
        .with_hint("names are written without spaces, with `_` between their parts")
        .with_fix(
            format!("write `{joined}`"),
            vec![crate::diagnostic::Edit {
                span,
                replacement: joined,
            }],
        );
    }
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
    } else if expected.iter().any(|e| e.starts_with("`answer` or `else`")) {
        d = d.with_hint(
            "write `not found -> answer` when a 404 or an empty answer means \"no such record\", or `not found -> else` when it is a failure",
        );
    }
    d
}

/// The word just before `at` (on the same line), if any.
fn previous_word(text: &str, at: usize) -> &str {
    let head = text[..at].trim_end_matches([' ', '\t']);
    let start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &head[start..]
}

/// `longest idle` written for `longest_idle`: the fixed words of the language
/// made of two parts.
fn joined_name(before: &str, found: &str) -> Option<String> {
    const JOINED: &[&str] = &[
        "first_idle",
        "longest_idle",
        "fewest_calls",
        "least_talk_time",
        "highest_skill",
        "lowest_skill",
        "round_robin",
        "ring_all",
        "call_window",
        "abandon_rate",
        "dropped_message",
        "days_until",
        "is_open",
        "is_workday",
        "last_digits",
        "to_number",
        "to_text",
        "starts_with",
        "ends_with",
        "estimated_wait",
        "idle_agents",
        "service_level",
        "longest_wait",
        "last_outcome",
    ];
    if before.is_empty() || found.is_empty() {
        return None;
    }
    let joined = format!("{before}_{found}");
    JOINED
        .iter()
        .find(|j| **j == joined || j.starts_with(&format!("{joined}_")))
        .map(|j| j.to_string())
}

/// How each clause that starts with its own word is written, for a line that
/// starts right but goes wrong after its first word.
fn clause_form(word: &str) -> Option<&'static str> {
    Some(match word {
        "dropped" => "`dropped -> play \"message.wav\" within 2s`",
        "max" => "`max wait 5m -> DESTINATION`",
        "overflow" => "`overflow up to QUEUE when CONDITION` (or `down to`)",
        "announce" => "`announce position every 30s when CONDITION` (or `wait`, or a prompt file)",
        "key" => "`key 9 -> DESTINATION`",
        "wrap" => "`wrap up 30s`",
        "service" => "`service level 80% within 20s`",
        "hours" => {
            "`hours CALENDAR closed -> DESTINATION` in a queue, `hours mon-fri 08:00-18:00` in a calendar"
        }
        "retry" => "`retry busy every 15m max 3` or `retry fax never`",
        "window" => "`window workday 09:00-12:00, 14:00-20:30`",
        "mode" => "`mode predictive (abandon max 3%) -> queue QUEUE`",
        "allow" => "`allow call_window \"the reason\"`",
        "transition" => "`transition NAME: FROM -> TO by ROLE`",
        "state" => "`state NAME initial limit 4h business`",
        "field" => "`field NAME: TYPE required`",
        "remind" => "`remind 1h before -> ROLE`",
        "escalate" => "`escalate 4h after -> ROLE`",
        "strategy" => "`strategy longest_idle`",
        "skills" => "`skills billing >= 2, english`",
        "priority" => "`priority data.level * 10`",
        "music" => "`music \"hold.wav\"`",
        "filter" => "`filter CONDITION`",
        "calendar" => "`calendar NAME`",
        "timezone" => "`timezone \"Asia/Shanghai\"`",
        "trunk" => "`trunk \"local\"`",
        _ => return None,
    })
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
pub(super) fn single_clause(container: Rule, clause: Rule) -> Option<&'static str> {
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
        (R::campaign_decl, R::c_script) => "script",
        (R::campaign_decl, R::c_amd) => "machine detection",
        (R::workorder_decl, R::w_calendar) => "calendar",
        (R::workorder_decl, R::w_links) => "links",
        (R::calendar_decl, R::cal_timezone) => "timezone",
        (R::service_decl, R::svc_url) => "url",
        (R::service_decl, R::svc_timeout) => "timeout",
        _ => return None,
    })
}

/// A clause written twice where one is allowed: the tree keeps only the last
/// one, so the first would otherwise be silently ignored.
pub(super) fn duplicate_clause(kind: &str, word: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "duplicate-clause",
        span,
        format!("this {kind} already has a `{word}` line; only one is allowed"),
    )
    .with_label("second one")
    .with_secondary(first, "the first one is here")
    .with_hint("keep one of them")
}
