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
