//! Snapshot tests of the syntax tree for every construct of the language. Spans
//! and expression ids are left out so the snapshots show structure only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialect_lang::ast::FileId;
use dialect_lang::syntax::{IdGen, parse_module};
use serde_json::Value;

fn strip(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| k != "span" && k != "id" && !k.ends_with("_span"));
            for x in m.values_mut() {
                strip(x);
            }
        }
        Value::Array(a) => {
            // Spans inside tuples (`Keys("1", span)`) show as {file, start, end}.
            a.retain(|x| !is_span(x));
            for x in a {
                strip(x);
            }
        }
        _ => {}
    }
}

fn is_span(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.len() == 3 && m.contains_key("file") && m.contains_key("start") && m.contains_key("end")
    })
}

/// Parses `src`, asserts it has no syntax error, and renders the tree without spans.
fn tree(src: &str) -> String {
    let mut ids = IdGen::default();
    let (module, diags) = parse_module(FileId(0), src, &mut ids);
    assert!(diags.is_empty(), "unexpected syntax errors: {diags:#?}");
    let mut v = serde_json::to_value(&module.items).unwrap();
    strip(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

macro_rules! ast_snapshot {
    ($name:ident, $src:expr) => {
        #[test]
        fn $name() {
            insta::with_settings!({ snapshot_path => "ast/snapshots", prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(stringify!($name), tree($src));
            });
        }
    };
}

ast_snapshot!(
    import_const_languages,
    r#"
import "common.flow"
const max_wait = 5m
const greeting = "欢迎 {max_wait}"
languages zh, en
"#
);

ast_snapshot!(
    calldata_skill_department_agent,
    r#"
calldata { level: number = 0, segment: enum(mass, vip) }
skill billing, fault levels 1..5
department network_ops "网络维护中心"
agent "1001" "王芳" { skills billing 3, fault }
"#
);

ast_snapshot!(
    list_with_categories,
    r#"
list blacklist "黑名单" {
  "13800000000"
  category harassment (max transfers 0, active 22:00-07:00) { "139*", "+8613700000000" }
}
"#
);

ast_snapshot!(
    calendar,
    r#"
calendar cn "日历" {
  timezone "Asia/Shanghai"
  hours mon-fri 08:30-12:00, 13:30-17:30
  hours sat 09:00-12:00
  hours daily 00:00-24:00
  holiday 2026-02-15..2026-02-23 "春节"
  workday 2026-02-14, 2026-02-28 "调休" hours 09:00-17:00
}
"#
);

ast_snapshot!(
    service,
    r#"
service crm "CRM" {
  url "http://127.0.0.1:9000/api"
  timeout 2s
  get customer "/customers/{phone}" (phone: text) -> { id: text, level: number }
  post verify "/verify" (account: text, password: text) -> { ok: bool }
}
"#
);

ast_snapshot!(
    flow_play_say_language,
    r#"
flow main "主流程" on "10000", "10001" {
  play "welcome.wav", "menu.wav" (no barge in)
  say "您好{caller}", money 12.5, digits "123", number 3, date 2026-10-01, time 08:30 (voice "f1", rate 160)
  say { zh "余额", money 1 en "Balance", money 1 }
  language en
  pause 500ms
}
"#
);

ast_snapshot!(
    flow_menu,
    r#"
flow main {
  menu main (retries 3, timeout 5s, speech, confidence 0.6) {
    play "main.wav"
    1 | "账单" | "billing" -> goto bill
    2 -> { data.intent = "x"; transfer queue general }
    *9# -> repeat
    # -> hangup
    no input -> play "again.wav"
    no input 2 -> say "请按键"
    no input final -> transfer queue general
    no match first -> repeat
    no match final -> hangup
  }
  bill:
  hangup
}
"#
);

ast_snapshot!(
    flow_collect_lookup_record_create,
    r#"
flow main {
  acct = collect (min 8, max 12, terminator #, timeout 6s, digit timeout 3s, retries 3, mask) {
    play "enter.wav"
    valid when len(acct) >= 8
    no input final -> hangup
    no match final -> hangup
  }
  c = lookup crm.customer(caller, acct) (timeout 2s) else { transfer queue general }
  msg = record (max 60s, silence 5s, beep, terminator #)
  n = create workorder complaint { phone: caller, recording: msg, level: c.level + 1 }
  ok = call verify(acct)
  call other()
}
"#
);

ast_snapshot!(
    flow_control,
    r#"
flow sub(a: number, b: text) -> bool {
  on error { hangup }
  x = a * 2 + 1 > 3 and not (b == "x" or b != "y") ? 1 : 2
  if x in [1, 2, 3] { return true } else if caller not in blacklist.harassment { return false } else { x = -x }
  match b {
    "a", "b" -> hangup
    else -> return false
  }
  notify sms to caller "工单{x}"
  notify email to "a@b.c" subject "s" "body"
  transfer number "95598" (via "long_distance", timeout 30s) else { hangup }
  transfer agent "1001"
  transfer flow other
}
"#
);

ast_snapshot!(
    notify_attach,
    r#"
flow voicemail {
  message = record (max 2m, beep)
  notify email to "complaints@example.com" subject "留言 {caller}" "见附件" attach message
  notify email to "a@b.c" "no attachment"
  attach = 1
}
"#
);

ast_snapshot!(
    queue,
    r#"
queue billing "话费" {
  skills billing >= 2, general
  strategy longest_idle
  priority data.level * 10 + (trunk == "long_distance" ? 5 : 0) + minutes(waited)
  music "hold.wav"
  announce position every 30s when position > 1
  announce wait every 1m when estimated_wait > 30s
  announce "promo.wav" every 45s
  max wait 5m -> flow voicemail
  overflow up to senior when waited > 3m and idle_agents == 0
  overflow down to general when waiting > 20
  key 9 -> callback
  key # -> hangup
  no answer 15s -> requeue first
  agent policy (max missed 2, reject delay 10s)
  wrap up 30s
  hours office closed -> flow after_hours
  service level 80% within 20s
}
"#
);

ast_snapshot!(
    campaign,
    r#"
campaign retention "挽留" {
  list expiring from "expiring.xlsx" { phone: text <- "电话", value: number <- "月消费" }
  filter value >= 50 and attempts < 2 and phone not in do_not_call
  mode predictive (min ratio 1.0, max ratio 2.5, abandon max 3%) -> queue retention
  dropped -> play "sorry.wav" within 2s
  calendar cn
  window workday 09:00-12:00, 14:00-20:00
  window holiday none
  retry busy every 30m max 2
  retry no answer every 3h max 2
  retry fax never
  trunk "local"
  caller id "10000"
  media voice
  allow call_window "exempt B2B list, regulator ref 2026-17"
  timezone "Asia/Shanghai"
}
"#
);

ast_snapshot!(
    workorder,
    r#"
workorder complaint "投诉" {
  calendar cn
  field phone: phone required
  field category: enum(billing, network) required
  field id_number: text sensitive
  state new "新建" initial limit 30m wall { escalate -> supervisor }
  state processing limit 2d business {
    remind 75% of limit -> handler
    remind 4h before -> handler
    remind at limit -> supervisor, service_quality
    escalate 4h after -> service_quality
  }
  state closed final
  transition accept: new -> processing by handler
  transition send_back: processing -> new by handler return
  transition close: processing -> closed by agent, supervisor close when category != ""
  links duplicate, related
}
"#
);

ast_snapshot!(
    service_list_answer_and_not_found,
    r#"
service billing {
  url "http://127.0.0.1:9000/billing"
  not found -> answer
  get bills "/bills/{phone}" (phone: phone) -> list of { month: text, amount: money }
  get repair "/repair/{phone}" (phone: phone) -> { expected: datetime }
}
service strict {
  url "http://127.0.0.1:9000/strict"
  not found -> else
}
"#
);

ast_snapshot!(
    for_each_and_dates_with_times,
    r#"
flow bills on "100" {
  bills = lookup billing.bills(caller) else { hangup }
  for each bill in bills (max 3) {
    say bill.month, money bill.amount
  }
  for each bill in bills {
    say "{bill.month}"
  }
  due = 2026-12-07 14:30
  iso = 2026-12-07T08:05:30
  later = due + 2h > today() + 18:00
}
"#
);

ast_snapshot!(
    queue_key_offer,
    r#"
queue billing {
  skills billing
  key 1 -> callback offer "press1_callback.wav" every 1m when waited > 2m
  key 2 -> flow voicemail offer "press2_voicemail.wav" every 45s
}
"#
);
