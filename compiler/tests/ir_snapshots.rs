//! The IR of every flow of the reference project, in its text form, is
//! snapshot-tested: a change in lowering shows up as a reviewable diff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use dialect_compiler::irtext::{flow_text, predicate_text};

#[test]
fn every_reference_flow_lowers_to_the_snapshot() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let (_, ir) = dialect_compiler::compile_paths(&[root]).unwrap();
    dialect_compiler::verify::verify(&ir).unwrap();
    for f in &ir.flows {
        insta::with_settings!({ snapshot_path => "snapshots/ir", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("flow_{}", f.name), flow_text(&ir, f));
        });
    }
    let preds: String = ir
        .predicates
        .iter()
        .map(|p| predicate_text(&ir, p))
        .collect();
    insta::with_settings!({ snapshot_path => "snapshots/ir", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("predicates", preds);
    });
}

/// `for each` over a lookup's list, a date-and-time literal and its arithmetic:
/// the counted loop with its bound, `count`/`item` and the integer milliseconds.
#[test]
fn a_bounded_loop_over_a_list_and_dates_with_times_lower_to_the_snapshot() {
    let src = r#"
service billing {
  url "http://127.0.0.1:9/billing"
  get bills "/bills/{phone}" (phone: phone) -> list of { month: text, due: datetime }
}
flow bills on "100" {
  bills = lookup billing.bills(caller) else { hangup }
  for each bill in bills (max 3) {
    say bill.month, bill.due + 1h
  }
  late = today() + 18:00 > 2026-12-07 14:30
}
"#;
    let checked = dialect_lang::check_text("bills.flow", src.as_bytes());
    assert!(
        checked.diagnostics.iter().all(|d| !d.is_error()),
        "{:#?}",
        checked.diagnostics
    );
    let ir = dialect_compiler::lower(&checked).unwrap();
    dialect_compiler::verify::verify(&ir).unwrap();
    insta::with_settings!({ snapshot_path => "snapshots/ir", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("for_each_and_datetime", flow_text(&ir, &ir.flows[0]));
    });
}
