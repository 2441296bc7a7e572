//! A sub-flow drawn inside its caller, with the figures of the calls that
//! came through the caller (snapshots of the DOT and Mermaid text, the SVG's
//! boxes and links).

use super::*;
use crate::ast::FileId;
use crate::syntax::{IdGen, parse_module};

const TEXT: &str = r#"flow main on "100" {
  play "welcome.wav"
  menu m {
    1 -> call check()
    2 -> hangup
  }
  play "bye.wav"
}
flow check {
  play "checking.wav"
  if true { return }
  play "more.wav"
}
"#;

fn graph(name: &str) -> FlowGraph {
    let (module, _) = parse_module(FileId(0), TEXT, &mut IdGen::default());
    flow_graph(&module, name, TEXT).expect("the flow")
}

/// 10 calls reach the menu: 4 press 2 and are hung up on; 6 press 1 and
/// hear `checking.wav`, of whom 2 hang up there, 3 return at once and 1 hears
/// `more.wav`; the 4 back in `main` hear `bye.wav`.
fn drawn() -> FlowGraph {
    let at = |line, col| StepPlace::At(line, col);
    let call = || StepPlace::InCall("check".into());
    let edge = |from, to, count| FlowEdge { from, to, count };
    let step = |line, col, calls, hangups| StepCount {
        line,
        col,
        calls,
        hangups,
    };
    let mut main = graph("main");
    main.apply_traffic_across(
        TEXT,
        &[
            step(2, 3, 10, 0),
            step(3, 3, 10, 0),
            step(5, 10, 4, 0),
            step(7, 3, 4, 0),
        ],
        &[
            edge(StepPlace::Start, at(2, 3), 10),
            edge(at(2, 3), at(3, 3), 10),
            edge(at(3, 3), call(), 6),
            edge(at(3, 3), at(5, 10), 4),
            edge(call(), call(), 1),
            edge(call(), at(7, 3), 4),
            edge(at(7, 3), StepPlace::End, 4),
        ],
    );
    let mut check = graph("check");
    check.apply_traffic_across(
        TEXT,
        &[step(10, 3, 6, 2), step(12, 3, 1, 0)],
        &[
            edge(StepPlace::Outside, at(10, 3), 6),
            edge(at(10, 3), at(12, 3), 1),
            edge(at(10, 3), StepPlace::Outside, 3),
            edge(at(12, 3), StepPlace::Outside, 1),
            // Steps of the caller around the call are not the sub-flow's.
            edge(StepPlace::Outside, StepPlace::Outside, 4),
        ],
    );
    assert!(main.attach_subflow(check.clone()));
    assert!(!main.attach_subflow(check), "drawn once");
    assert!(
        !main.attach_subflow(graph("main")),
        "`main` does not call itself"
    );
    main
}

#[test]
fn calls_through_a_sub_flow_are_counted_on_both_diagrams() {
    let g = drawn();
    let t = g.traffic.as_ref().expect("figures");
    let call = g.calls_of("check").next().expect("the call");
    assert_eq!(g.nodes[call].kind, NodeKind::SubFlow);
    assert_eq!(t.nodes[call].calls, 6, "the call counts the calls into it");
    let back = g
        .edges
        .iter()
        .position(|e| e.from == call)
        .expect("the call's way on");
    assert_eq!(t.edges[back], 4);
    let sub = &g.subflows[0];
    let st = sub.traffic.as_ref().expect("the sub-flow's figures");
    assert_eq!(st.nodes[0].calls, 6, "its start: the calls that came in");
    let ret = sub
        .nodes
        .iter()
        .position(|n| n.kind == NodeKind::Return)
        .expect("the return");
    assert_eq!(st.nodes[ret].calls, 3);
    let end = sub
        .nodes
        .iter()
        .position(|n| n.kind == NodeKind::End)
        .expect("the end");
    assert_eq!(st.nodes[end].calls, 1);
}

#[test]
fn a_sub_flow_in_dot_mermaid_and_svg() {
    let g = drawn();
    insta::assert_snapshot!("subflow_dot", g.to_dot());
    insta::assert_snapshot!("subflow_mermaid", g.to_mermaid());
    let svg = g.to_svg();
    assert_eq!(svg.matches("<g class=\"subflow\" id=\"s0\">").count(), 1);
    assert_eq!(svg.matches("class=\"subflow-link\"").count(), 1);
    assert!(
        svg.contains("sub-flow check · ▸ 6 calls from here"),
        "{svg}"
    );
    // The sub-flow's nodes have ids of their own.
    assert!(svg.contains("id=\"s0-n0\""));
    assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
    assert_eq!(svg.matches(" hung-up\"").count(), 1, "checking.wav");
    // Without sub-flows nothing of this is drawn.
    let plain = graph("main").to_svg();
    assert!(!plain.contains("subflow-link"));
}
