use std::path::PathBuf;

use super::*;
use crate::check::{PromptIndex, check_project, parse_project};

const QUEUES: &str = "\
skill general, billing

# Where callers wait for the general desk.
queue general \"综合服务\" {
  skills general
  max wait 5m -> flow sorry
  hours office closed -> flow sorry
}

calendar office {
  timezone \"Asia/Shanghai\"
  hours mon-fri 08:30-17:30
}
";

const MAIN: &str = "\
languages zh, en

calldata {
  level: number = 0
}

service crm {
  url \"http://127.0.0.1:9000\"
  get customer \"/c/{phone}\" (phone: text) -> { name: text, level: number }
}

list blacklist {
  category harassment { \"13800000001\" }
}

flow 热线 on \"10000\" {
  if caller in blacklist.harassment { hangup }
  客户 = lookup crm.customer(caller) else { hangup }
  data.level = 客户.level
  开始:
  say \"您好，\", 客户.name
  menu main (retries 2) {
    play \"main.wav\"
    1 -> transfer queue general
    2 -> goto 开始
    no input final -> hangup
    no match final -> hangup
  }
}

flow sorry {
  say \"再见\"
  hangup
}

workorder repair {
  field phone: phone required
  field note: text
  state new initial
  state done final
  transition finish: new -> done by agent when note != \"\"
}
";

fn analysis_of(files: &[(&str, &str)]) -> Analysis {
    let project = parse_project(
        PathBuf::from("p"),
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
            .collect(),
        PromptIndex::Unchecked,
        false,
    );
    Analysis::new(check_project(project))
}

fn project() -> Analysis {
    analysis_of(&[("p/queues.flow", QUEUES), ("p/main.flow", MAIN)])
}

/// The byte offset of the `n`th (0-based) `needle` in the file, plus `delta`.
fn at(a: &Analysis, file: FileId, needle: &str, n: usize, delta: usize) -> usize {
    a.text(file)
        .match_indices(needle)
        .nth(n)
        .unwrap_or_else(|| panic!("no {needle} #{n}"))
        .0
        + delta
}

fn snippet(a: &Analysis, s: Span) -> String {
    format!(
        "{}:{}",
        a.path(s.file).unwrap().display(),
        &a.text(s.file)[s.range()]
    )
}

#[test]
fn the_project_checks_cleanly() {
    let a = project();
    assert!(
        a.checked.diagnostics.is_empty(),
        "{:#?}",
        a.checked.diagnostics
    );
}

#[test]
fn definitions_across_files() {
    let a = project();
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    let queues = a.file(std::path::Path::new("p/queues.flow")).unwrap();
    let q = a
        .definition(main, at(&a, main, "queue general", 0, 8))
        .unwrap();
    assert_eq!(q.file, queues);
    assert_eq!(snippet(&a, q), "p/queues.flow:general");
    // Just after the name still counts.
    let end = at(&a, main, "queue general", 0, "queue general".len());
    assert_eq!(a.definition(main, end), Some(q));
    // A flow named in a queue, declared in the other file.
    let sorry = a
        .definition(queues, at(&a, queues, "flow sorry", 0, 6))
        .unwrap();
    assert_eq!(snippet(&a, sorry), "p/main.flow:sorry");
    // A Chinese variable, a label, a record field, a list category, a calendar.
    let v = a.definition(main, at(&a, main, "客户.name", 0, 0)).unwrap();
    assert_eq!(v.start as usize, at(&a, main, "客户 = lookup", 0, 0));
    let l = a.definition(main, at(&a, main, "goto 开始", 0, 6)).unwrap();
    assert_eq!(l.start as usize, at(&a, main, "开始:", 0, 0));
    let f = a
        .definition(main, at(&a, main, "客户.level", 0, 8))
        .unwrap();
    assert_eq!(f.start as usize, at(&a, main, "level: number }", 0, 0));
    let c = a
        .definition(main, at(&a, main, ".harassment", 0, 1))
        .unwrap();
    assert_eq!(c.start as usize, at(&a, main, "harassment {", 0, 0));
    let cal = a
        .definition(queues, at(&a, queues, "hours office", 0, 6))
        .unwrap();
    assert_eq!(snippet(&a, cal), "p/queues.flow:office");
    // Call data, service, operation, workorder state and field.
    let d = a
        .definition(main, at(&a, main, "data.level", 0, 5))
        .unwrap();
    assert_eq!(d.start as usize, at(&a, main, "level: number = 0", 0, 0));
    let op = a
        .definition(main, at(&a, main, "crm.customer", 0, 4))
        .unwrap();
    assert_eq!(op.start as usize, at(&a, main, "customer \"/c", 0, 0));
    let st = a.definition(main, at(&a, main, "-> done", 0, 3)).unwrap();
    assert_eq!(st.start as usize, at(&a, main, "done final", 0, 0));
    let wf = a.definition(main, at(&a, main, "note !=", 0, 0)).unwrap();
    assert_eq!(wf.start as usize, at(&a, main, "note: text", 0, 0));
}

#[test]
fn references_include_every_use() {
    let a = project();
    let queues = a.file(std::path::Path::new("p/queues.flow")).unwrap();
    let o = a
        .occurrence_at(queues, at(&a, queues, "flow sorry", 0, 6))
        .unwrap();
    let refs: Vec<String> = a
        .references(o.symbol, true)
        .into_iter()
        .map(|s| snippet(&a, s))
        .collect();
    assert_eq!(
        refs,
        [
            "p/main.flow:sorry",
            "p/queues.flow:sorry",
            "p/queues.flow:sorry"
        ]
    );
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    let o = a.occurrence_at(main, at(&a, main, "客户", 0, 0)).unwrap();
    assert!(o.is_decl);
    assert_eq!(a.references(o.symbol, false).len(), 2);
}

#[test]
fn hover_shows_what_and_the_comment_above() {
    let a = project();
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    let h = a.hover(main, at(&a, main, "queue general", 0, 7)).unwrap();
    assert_eq!(
        h.markdown,
        "```dialect\nqueue general \"综合服务\"\n```\n\nWhere callers wait for the general desk."
    );
    let h = a.hover(main, at(&a, main, "客户.name", 0, 1)).unwrap();
    assert!(
        h.markdown.contains("客户: record crm.customer"),
        "{}",
        h.markdown
    );
    let h = a.hover(main, at(&a, main, "caller in", 0, 2)).unwrap();
    assert!(h.markdown.contains("caller: text"), "{}", h.markdown);
    let h = a.hover(main, at(&a, main, "data.level", 0, 6)).unwrap();
    assert!(h.markdown.contains("data.level: number"), "{}", h.markdown);
}

fn labels(c: &[Completion]) -> Vec<&str> {
    c.iter().map(|c| c.label.as_str()).collect()
}

#[test]
fn completion_from_the_text_before_the_cursor() {
    let text =
        format!("{MAIN}\nflow x {{\n  transfer queue \n  goto \n  y = data.\n  menu m (\n}}\n");
    let a = analysis_of(&[("p/queues.flow", QUEUES), ("p/main.flow", &text)]);
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    let c = a.completions(main, at(&a, main, "transfer queue \n", 0, 15));
    assert_eq!(labels(&c), ["general"]);
    let c = a.completions(main, at(&a, main, "data.\n", 0, 5));
    assert_eq!(labels(&c), ["level"]);
    let c = a.completions(main, at(&a, main, "menu m (", 0, 8));
    assert!(labels(&c).contains(&"retries"), "{c:?}");
    assert!(labels(&c).contains(&"timeout"), "{c:?}");
    // Inside the flow 热线 (which parses): labels, record fields, categories.
    let c = a.completions(main, at(&a, main, "goto 开始", 0, 5));
    assert_eq!(labels(&c), ["开始"]);
    let c = a.completions(main, at(&a, main, "客户.name", 0, "客户.".len()));
    assert_eq!(labels(&c), ["name", "level"]);
    let c = a.completions(main, at(&a, main, "blacklist.harassment", 0, 10));
    assert_eq!(labels(&c), ["harassment"]);
    // Clause keywords of a queue, statement keywords of a flow.
    let queues = a.file(std::path::Path::new("p/queues.flow")).unwrap();
    let c = a.completions(queues, at(&a, queues, "  skills general", 0, 2));
    assert!(labels(&c).contains(&"max wait"), "{c:?}");
    assert!(labels(&c).contains(&"overflow"), "{c:?}");
    let c = a.completions(main, at(&a, main, "  data.level =", 0, 2));
    assert!(labels(&c).contains(&"play"), "{c:?}");
    assert!(labels(&c).contains(&"no input"), "{c:?}");
    assert!(labels(&c).contains(&"客户"), "{c:?}");
    // States after `->` in a transition, skills after `skills`.
    let c = a.completions(main, at(&a, main, "-> done", 0, 3));
    assert_eq!(labels(&c), ["new", "done"]);
    let c = a.completions(queues, at(&a, queues, "skills general", 0, 7));
    assert_eq!(labels(&c), ["general", "billing"]);
    // At the left margin: declarations.
    let c = a.completions(main, 0);
    assert!(labels(&c).contains(&"workorder"), "{c:?}");
}

#[test]
fn rename_everywhere_or_refuse() {
    let a = project();
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    let edits = a
        .rename(main, at(&a, main, "queue general", 0, 7), "综合")
        .unwrap();
    let places: Vec<String> = edits.iter().map(|(s, _)| snippet(&a, *s)).collect();
    assert_eq!(places, ["p/queues.flow:general", "p/main.flow:general"]);
    assert!(edits.iter().all(|(_, n)| n == "综合"));
    assert_eq!(
        a.rename(main, at(&a, main, "queue general", 0, 7), "flow"),
        Err(RenameError::Invalid(
            "flow".into(),
            "it is a word of the language"
        ))
    );
    assert_eq!(
        a.rename(main, at(&a, main, "queue general", 0, 7), "1q"),
        Err(RenameError::Invalid(
            "1q".into(),
            "a name starts with a letter or `_`"
        ))
    );
    let sorry = at(&a, main, "flow sorry", 0, 6);
    assert_eq!(
        a.rename(main, sorry, "热线"),
        Err(RenameError::Taken("flow", "热线".into()))
    );
    // A queue may share a flow's name.
    assert!(
        a.rename(main, at(&a, main, "queue general", 0, 7), "sorry")
            .is_ok()
    );
    assert_eq!(a.rename(main, 0, "x"), Err(RenameError::NothingHere));
}

#[test]
fn did_you_mean_becomes_a_fix() {
    let text = MAIN.replace("transfer queue general", "transfer queue genral");
    let a = analysis_of(&[("p/queues.flow", QUEUES), ("p/main.flow", &text)]);
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    let o = at(&a, main, "genral", 0, 0);
    let fixes = a.fixes(main, o, o);
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert_eq!(fixes[0].title, "Change to general");
    assert_eq!(snippet(&a, fixes[0].edits[0].0), "p/main.flow:genral");
    let d = &a.checked.diagnostics[fixes[0].diagnostic.unwrap()];
    assert_eq!(d.code, "unknown-queue");
}

#[test]
fn full_width_punctuation_becomes_a_fix() {
    let text = MAIN.replace("开始:", "开始：");
    let a = analysis_of(&[("p/queues.flow", QUEUES), ("p/main.flow", &text)]);
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    assert!(a.checked.has_errors());
    let o = at(&a, main, "开始：", 0, 0);
    let fixes = a.fixes(main, o, o);
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert_eq!(fixes[0].title, "Replace the full-width `：` with `:`");
    assert!(fixes[0].diagnostic.is_some());
    let mut fixed = text.clone();
    let (span, new) = &fixes[0].edits[0];
    fixed.replace_range(span.range(), new);
    assert_eq!(fixed, MAIN);
}

#[test]
fn positions_on_chinese_lines_are_utf16() {
    let a = project();
    let main = a.file(std::path::Path::new("p/main.flow")).unwrap();
    let o = at(&a, main, "客户.level", 0, 0);
    let p = a.position(main, o + "客户.".len());
    let line = &a.text(main)[..o].matches('\n').count();
    assert_eq!(
        p,
        LineCol {
            line: *line as u32,
            col: 2 + 13 + 3
        }
    );
    assert_eq!(a.offset(main, p), o + "客户.".len());
}

#[test]
fn the_hotline_resolves_everywhere() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let checked = check_project(crate::load_project(&[root]).unwrap());
    assert!(!checked.has_errors());
    let a = Analysis::new(checked);
    // Every name that should resolve does: each unknown-* diagnostic would
    // say otherwise, so count the kinds found instead.
    let mut kinds: Vec<SymbolKind> = a
        .occurrences
        .iter()
        .filter(|o| !o.is_decl)
        .map(|o| a.symbol(o.symbol).kind)
        .collect();
    kinds.sort();
    kinds.dedup();
    for k in [
        SymbolKind::Flow,
        SymbolKind::Queue,
        SymbolKind::Label,
        SymbolKind::Variable,
        SymbolKind::List,
        SymbolKind::Category,
        SymbolKind::Service,
        SymbolKind::Operation,
        SymbolKind::RecordField,
        SymbolKind::Calendar,
        SymbolKind::CallData,
        SymbolKind::Workorder,
        SymbolKind::WorkorderField,
        SymbolKind::State,
        SymbolKind::Skill,
        SymbolKind::Department,
    ] {
        assert!(kinds.contains(&k), "no use of a {k:?} found");
    }
}

const ROLES: &str = "\
department network_ops \"网络维护中心\"
# Sends fault orders to the field teams.
role dispatcher \"派单员\"

workorder fault {
  field phone: phone required
  state new initial limit 1h wall {
    escalate -> supervisor, dispatcher
  }
  state fixed
  state closed final
  transition fix: new -> fixed by agent, dispatcher
  transition close: fixed -> closed by agent
  on enter new -> assign dispatcher
  fixed within 2h from new { escalate -> dispatcher, network_ops }
}
";

#[test]
fn roles_are_declarations_that_by_lists_reminders_and_triggers_name() {
    let a = analysis_of(&[("p/roles.flow", ROLES)]);
    assert!(
        a.checked.diagnostics.is_empty(),
        "{:#?}",
        a.checked.diagnostics
    );
    let f = a.file(std::path::Path::new("p/roles.flow")).unwrap();
    let decl = at(&a, f, "role dispatcher", 0, 5);
    // The `by` list, the escalation, the trigger and the spanning limit.
    for (needle, n, delta) in [
        ("agent, dispatcher", 0, 7),
        ("supervisor, dispatcher", 0, 12),
        ("assign dispatcher", 0, 7),
        ("{ escalate -> dispatcher", 0, 14),
    ] {
        let d = a
            .definition(f, at(&a, f, needle, n, delta))
            .unwrap_or_else(|| panic!("no definition at {needle}"));
        assert_eq!(d.start as usize, decl, "{needle}");
    }
    let o = a.occurrence_at(f, decl).unwrap();
    assert!(o.is_decl);
    assert_eq!(a.references(o.symbol, false).len(), 4);
    // A department in the same list still finds its department.
    let dept = a
        .definition(f, at(&a, f, "dispatcher, network_ops", 0, 12))
        .unwrap();
    assert_eq!(
        dept.start as usize,
        at(&a, f, "department network_ops", 0, 11)
    );
    // The trigger's and the limit's states.
    let new = a.definition(f, at(&a, f, "from new", 0, 5)).unwrap();
    assert_eq!(new.start as usize, at(&a, f, "new initial", 0, 0));
    // Document symbols, hover and completion.
    let symbols: Vec<(SymbolKind, &str)> = a
        .file_symbols(f)
        .into_iter()
        .map(|s| (s.kind, s.name.as_str()))
        .collect();
    assert!(
        symbols.contains(&(SymbolKind::Role, "dispatcher")),
        "{symbols:?}"
    );
    let h = a.hover(f, decl + 2).unwrap();
    assert_eq!(
        h.markdown,
        "```dialect\nrole dispatcher \"派单员\"\n```\n\nSends fault orders to the field teams."
    );
    let role_completion = |offset: usize| {
        a.completions(f, offset)
            .into_iter()
            .find(|c| c.label == "dispatcher")
            .map(|c| c.kind)
    };
    let after_arrow = at(&a, f, "-> supervisor", 0, 3);
    assert_eq!(
        role_completion(after_arrow),
        Some(CompletionKind::Symbol(SymbolKind::Role))
    );
    let after_by = at(&a, f, "by agent, dispatcher", 0, 3);
    assert!(role_completion(after_by).is_some());
    let after_assign = at(&a, f, "assign dispatcher", 0, 7);
    assert!(role_completion(after_assign).is_some());
    let in_span = at(&a, f, "{ escalate -> dispatcher", 0, 14);
    assert!(role_completion(in_span).is_some());
}
