//! Tests of `dialect graph`: the graph built from a flow, its DOT and Mermaid text
//! (snapshots), and the SVG drawn for every flow of the reference project (well-formed
//! XML, every node label present, loops drawn as back edges).

#![allow(clippy::expect_used)]

use std::path::Path;

use dialect_lang::ast::{FileId, Item, Module};
use dialect_lang::graph::{EdgeKind, FlowGraph, GraphFormat, NodeKind, flow_graph};
use dialect_lang::syntax::{IdGen, parse_module};

fn parse(text: &str) -> Module {
    let (m, diags) = parse_module(FileId(0), text, &mut IdGen::default());
    assert!(diags.is_empty(), "{diags:#?}");
    m
}

fn reference(file: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../flows/hotline")
        .join(file);
    std::fs::read_to_string(p).expect("reference file")
}

fn graph(text: &str, flow: &str) -> FlowGraph {
    flow_graph(&parse(text), flow, text).expect("the flow exists")
}

/// Every flow of the reference project with its file's text.
fn reference_flows() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("reference folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    for p in files {
        let text = std::fs::read_to_string(&p).expect("readable");
        for item in parse(&text).items {
            if let Item::Flow(f) = item {
                out.push((f.name.name.clone(), text.clone()));
            }
        }
    }
    out
}

/// A small well-formedness check: balanced tags, quoted attributes, and `&` `<`
/// only as entities and markup.
fn check_xml(s: &str) -> Result<(), String> {
    fn check_chars(t: &str, what: &str) -> Result<(), String> {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let after = &rest[i..];
            let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| after.starts_with(e))
                || (after.starts_with("&#")
                    && after[2..].find(';').is_some_and(|n| {
                        n > 0 && after[2..2 + n].chars().all(|c| c.is_ascii_digit())
                    }));
            if !ok {
                return Err(format!(
                    "bare `&` in {what}: {}",
                    &after[..after.len().min(20)]
                ));
            }
            rest = &after[1..];
        }
        if t.contains('<') {
            return Err(format!("bare `<` in {what}"));
        }
        Ok(())
    }
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut i = 0;
    let b = s.as_bytes();
    while i < s.len() {
        let Some(lt) = s[i..].find('<') else {
            check_chars(&s[i..], "text")?;
            break;
        };
        check_chars(&s[i..i + lt], "text")?;
        if stack.is_empty() && !s[i..i + lt].trim().is_empty() {
            return Err("text outside the root element".into());
        }
        i += lt + 1;
        if s[i..].starts_with('/') {
            let end = s[i..].find('>').ok_or("unclosed end tag")? + i;
            let name = s[i + 1..end].trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("`</{name}>` closes {other:?}")),
            }
            i = end + 1;
            continue;
        }
        let name_end = s[i..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .ok_or("unfinished tag")?
            + i;
        let name = &s[i..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
        {
            return Err(format!("bad tag name `{name}`"));
        }
        i = name_end;
        let mut attrs: Vec<&str> = Vec::new();
        loop {
            while i < s.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if s[i..].starts_with("/>") {
                i += 2;
                if stack.is_empty() {
                    roots += 1;
                }
                break;
            }
            if s[i..].starts_with('>') {
                i += 1;
                if stack.is_empty() {
                    roots += 1;
                }
                stack.push(name.to_string());
                break;
            }
            let eq = s[i..].find('=').ok_or("attribute without value")? + i;
            let attr = s[i..eq].trim();
            if attr.is_empty()
                || !attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
            {
                return Err(format!("bad attribute name `{attr}` in <{name}>"));
            }
            if attrs.contains(&attr) {
                return Err(format!("attribute `{attr}` twice in <{name}>"));
            }
            attrs.push(attr);
            if b.get(eq + 1) != Some(&b'"') {
                return Err(format!("attribute `{attr}` is not quoted"));
            }
            let close = s[eq + 2..].find('"').ok_or("unclosed attribute")? + eq + 2;
            check_chars(&s[eq + 2..close], "an attribute")?;
            i = close + 1;
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[test]
fn xml_checker_rejects_broken_documents() {
    assert!(check_xml("<svg><g></g></svg>").is_ok());
    assert!(check_xml("<svg><g></svg>").is_err());
    assert!(check_xml("<svg a=\"1\" a=\"2\"/>").is_err());
    assert!(check_xml("<svg><text>a & b</text></svg>").is_err());
    assert!(check_xml("<svg><text>a &amp; b</text></svg>").is_ok());
    assert!(check_xml("<svg x=1/>").is_err());
    assert!(check_xml("<svg/><svg/>").is_err());
}

#[test]
fn hotline_dot_and_mermaid() {
    let text = reference("main.flow");
    let g = graph(&text, "hotline");
    insta::assert_snapshot!("hotline_dot", g.to_dot());
    insta::assert_snapshot!("hotline_mermaid", g.to_mermaid());
}

#[test]
fn fee_inquiry_dot_and_mermaid() {
    let text = reference("fee.flow");
    let g = graph(&text, "fee_inquiry");
    insta::assert_snapshot!("fee_inquiry_dot", g.to_dot());
    insta::assert_snapshot!("fee_inquiry_mermaid", g.to_mermaid());
}

#[test]
fn every_reference_flow_draws_well_formed_svg_with_all_labels() {
    let flows = reference_flows();
    assert!(flows.len() >= 10, "only {} flows", flows.len());
    for (name, text) in flows {
        let g = graph(&text, &name);
        let svg = g.to_svg();
        check_xml(&svg).unwrap_or_else(|e| panic!("{name}: {e}\n{svg}"));
        for n in &g.nodes {
            for line in n.label.lines() {
                assert!(
                    svg.contains(&format!(">{}</tspan>", xml_escape(line))),
                    "{name}: the label line `{line}` is missing"
                );
            }
        }
        for e in &g.edges {
            if let Some(l) = &e.label {
                assert!(
                    svg.contains(&xml_escape(l)),
                    "{name}: edge label `{l}` missing"
                );
            }
        }
        let drawn = svg.matches("<g class=\"node ").count();
        assert_eq!(drawn, g.nodes.len(), "{name}: every node is drawn once");
        assert_eq!(
            svg.matches("<path class=\"").count(),
            g.edges.len(),
            "{name}: every edge is drawn once"
        );
        // Every node lies inside the drawing.
        let (w, h) = svg_size(&svg);
        for (x, y) in node_rects(&svg) {
            assert!(
                x >= 0.0 && x <= w && y >= 0.0 && y <= h,
                "{name}: node at {x},{y} outside {w}x{h}"
            );
        }
    }
}

fn svg_size(svg: &str) -> (f64, f64) {
    let num = |key: &str| -> f64 {
        let i = svg.find(key).expect("size") + key.len();
        let end = svg[i..].find('"').expect("quote") + i;
        svg[i..end].parse().expect("number")
    };
    (num("width=\""), num("height=\""))
}

/// The top-left corners of the node shapes drawn as rectangles.
fn node_rects(svg: &str) -> Vec<(f64, f64)> {
    svg.split("<g class=\"node ")
        .skip(1)
        .filter_map(|part| {
            let r = part.split("<rect x=\"").nth(1)?;
            let x: f64 = r[..r.find('"')?].parse().ok()?;
            let y_at = r.find("y=\"")? + 3;
            let y: f64 = r[y_at..y_at + r[y_at..].find('"')?].parse().ok()?;
            Some((x, y))
        })
        .collect()
}

#[test]
fn a_goto_loop_is_drawn_as_a_back_edge() {
    let text = r#"flow loop {
  top:
  play "intro.wav"
  menu m (retries 2) {
    1 -> goto top
    2 -> hangup
    no input final -> hangup
    no match final -> hangup
  }
}
"#;
    let g = graph(text, "loop");
    let play = g
        .nodes
        .iter()
        .position(|n| n.kind == NodeKind::Prompt)
        .expect("prompt");
    let menu = g
        .nodes
        .iter()
        .position(|n| n.kind == NodeKind::Menu)
        .expect("menu");
    let goto = g
        .edges
        .iter()
        .position(|e| e.kind == EdgeKind::Goto)
        .expect("a goto edge");
    assert_eq!((g.edges[goto].from, g.edges[goto].to), (menu, play));
    assert_eq!(g.edges[goto].label.as_deref(), Some("1"));
    assert_eq!(g.back_edges(), vec![goto]);
    let svg = g.to_svg();
    check_xml(&svg).expect("well-formed");
    assert_eq!(svg.matches("class=\"back edge goto\"").count(), 1, "{svg}");
    assert!(
        g.to_dot()
            .contains(&format!("n{menu} -> n{play} [label=\"1\", style=dashed];"))
    );
    assert!(
        g.to_mermaid()
            .contains(&format!("n{menu} -.->|\"1\"| n{play}"))
    );
}

#[test]
fn menus_lookups_and_prompts_make_the_expected_graph() {
    let text = r#"flow f "测试" {
  play "a.wav"
  say "welcome"
  x = lookup crm.customer(caller) (timeout 2s) else {
    transfer queue general
  }
  if  x.level>3   # a comment the label leaves out
  {
    play "vip.wav"
  }
  menu main {
    say "pick"
    1 | "账单" -> call bill()
    * -> repeat
    no input -> play "again.wav"
    no input final -> hangup
  }
  notify sms to caller "bye"
}
"#;
    let g = graph(text, "f");
    let kinds: Vec<NodeKind> = g.nodes.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        vec![
            NodeKind::Start,
            NodeKind::Prompt,
            NodeKind::Lookup,
            NodeKind::Transfer,
            NodeKind::Decision,
            NodeKind::Prompt,
            NodeKind::Menu,
            NodeKind::SubFlow,
            NodeKind::Prompt,
            NodeKind::Hangup,
            NodeKind::Notify,
            NodeKind::End,
        ]
    );
    // Consecutive prompts are one node; labels are the source text.
    assert_eq!(g.nodes[0].label, "f\n测试");
    assert_eq!(g.nodes[1].label, "play \"a.wav\"\nsay \"welcome\"");
    assert_eq!(g.nodes[2].label, "x = lookup crm.customer(caller)");
    assert_eq!(g.nodes[4].label, "x.level>3");
    assert_eq!(g.nodes[6].label, "menu main\nsay \"pick\"");
    let label = |from: usize, to: usize| {
        g.edges
            .iter()
            .find(|e| e.from == from && e.to == to)
            .map(|e| (e.label.clone(), e.kind))
    };
    assert_eq!(
        label(2, 3),
        Some((Some("else / failure".into()), EdgeKind::Next))
    );
    assert_eq!(label(2, 4), Some((Some("ok".into()), EdgeKind::Next)));
    assert_eq!(label(4, 5), Some((Some("yes".into()), EdgeKind::Next)));
    assert_eq!(label(4, 6), Some((Some("no".into()), EdgeKind::Next)));
    assert_eq!(
        label(6, 7),
        Some((Some("1 | \"账单\"".into()), EdgeKind::Next))
    );
    assert_eq!(label(6, 6), Some((Some("*".into()), EdgeKind::Repeat)));
    assert_eq!(label(6, 8), Some((Some("no input".into()), EdgeKind::Next)));
    assert_eq!(label(8, 6), Some((None, EdgeKind::Retry)));
    assert_eq!(
        label(6, 9),
        Some((Some("no input final".into()), EdgeKind::Next))
    );
    // No `no match final`: the flow goes on when the retries are used up.
    assert_eq!(
        label(6, 10),
        Some((Some("retries used up".into()), EdgeKind::Next))
    );
    assert_eq!(label(7, 10), Some((None, EdgeKind::Next)));
    // Spans point at the statements.
    let span = g.nodes[3].span;
    assert!(text[span.start as usize..].starts_with("transfer queue general"));
    let svg = g.to_svg();
    check_xml(&svg).expect("well-formed");
    assert_eq!(g.back_edges().len(), 2);
}

#[test]
fn keys_leading_to_the_same_step_share_one_edge() {
    let text = "flow f {\n  menu m {\n    1 -> kind = \"a\"\n    2 -> kind = \"b\"\n    no input final -> hangup\n    no match final -> hangup\n  }\n  x = record (max 1m)\n}\n";
    let g = graph(text, "f");
    let record = g
        .nodes
        .iter()
        .position(|n| n.kind == NodeKind::Record)
        .expect("record");
    let into: Vec<_> = g.edges.iter().filter(|e| e.to == record).collect();
    assert_eq!(into.len(), 1);
    assert_eq!(into[0].label.as_deref(), Some("1, 2"));
}

#[test]
fn unknown_flows_get_a_suggestion() {
    let text = reference("fee.flow");
    let err = flow_graph(&parse(&text), "fee_inquery", &text).unwrap_err();
    assert!(
        err.contains("fee_inquery") && err.contains("did you mean `fee_inquiry`"),
        "{err}"
    );
}

#[test]
fn labels_are_escaped_for_each_format() {
    let text = "flow f \"引号 \\\" & <标签>\" {\n  say \"a|b # c\"\n}\n";
    let g = graph(text, "f");
    let mermaid = g.to_mermaid();
    assert!(
        mermaid.contains("(\"say #quot;a#124;b #35; c#quot;\")"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("引号 #quot; #38; #60;标签#62;"),
        "{mermaid}"
    );
    let dot = g.to_dot();
    assert!(dot.contains("label=\"say \\\"a|b # c\\\"\""), "{dot}");
    let svg = g.to_svg();
    check_xml(&svg).expect("well-formed");
    assert!(svg.contains("引号 &quot; &amp; &lt;标签&gt;"));
    assert_eq!(g.render(GraphFormat::Dot), dot);
    assert_eq!("mermaid".parse::<GraphFormat>(), Ok(GraphFormat::Mermaid));
    assert!("png".parse::<GraphFormat>().is_err());
}

#[test]
fn wide_characters_make_wider_nodes() {
    let narrow = graph("flow f {\n  play \"aaaa\"\n}\n", "f").to_svg();
    let wide = graph("flow f {\n  play \"账单账单\"\n}\n", "f").to_svg();
    let width_of_prompt = |svg: &str| -> f64 {
        let part = svg
            .split("<g class=\"node prompt\"")
            .nth(1)
            .expect("prompt");
        let w = part.split("width=\"").nth(1).expect("width");
        w[..w.find('"').expect("quote")].parse().expect("number")
    };
    assert!(width_of_prompt(&wide) > width_of_prompt(&narrow) + 20.0);
}

/// Flows of other test inputs: the formatter's messy file (every statement) and the
/// checker's golden files that parse.
fn other_flows() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut out = Vec::new();
    for dir in ["format", "golden"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        {
            let text = std::fs::read_to_string(&p).expect("readable");
            let (m, diags) = parse_module(FileId(0), &text, &mut IdGen::default());
            if !diags.is_empty() {
                continue;
            }
            for item in m.items {
                if let Item::Flow(f) = item {
                    out.push((f.name.name.clone(), text.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn other_flows_draw_well_formed_svg() {
    let flows = other_flows();
    assert!(flows.len() >= 30, "only {} flows", flows.len());
    for (name, text) in flows {
        let g = graph(&text, &name);
        let svg = g.to_svg();
        check_xml(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        for n in &g.nodes {
            for line in n.label.lines() {
                assert!(
                    svg.contains(&format!(">{}</tspan>", xml_escape(line))),
                    "{name}: `{line}`"
                );
            }
        }
        assert!(g.to_dot().starts_with("digraph"));
        assert!(g.to_mermaid().starts_with("flowchart TD\n"));
    }
}

#[test]
fn labels_join_lines_but_keep_the_text() {
    let text = "flow f {\n  if a and   # why\n     b {\n    say \"two  spaces\"\n  }\n}\n";
    let g = graph(text, "f");
    assert_eq!(g.nodes[1].label, "a and b");
    assert_eq!(g.nodes[2].label, "say \"two  spaces\"");
}

/// 1-based line and column (in characters) where `needle` starts in `text`.
fn place(text: &str, needle: &str) -> (u32, u32) {
    let at = text.find(needle).expect("the needle is in the text");
    let line = text[..at].matches('\n').count() as u32 + 1;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..at].chars().count() as u32 + 1)
}

const TRAFFIC_FLOW: &str = r#"flow t {
  play "welcome.wav"
  play "hours.wav"
  menu m (retries 2) {
    1 -> {
      say "再见"
      hangup
    }
    2 -> transfer queue general
    no input final -> hangup
    no match final -> hangup
  }
}
"#;

/// Ten calls: all hear the welcome and reach the menu; four pick 1 and are
/// served, three pick 2 and go to the queue, three hang up in the menu.
fn traffic_graph() -> FlowGraph {
    use dialect_lang::graph::{Observed, StepCount, StepEdge};
    let text = TRAFFIC_FLOW;
    let step = |needle: &str, calls: u64, hangups: u64| {
        let (line, col) = place(text, needle);
        StepCount {
            line,
            col,
            calls,
            hangups,
        }
    };
    let welcome = place(text, "play \"welcome");
    let hours = place(text, "play \"hours");
    let menu = place(text, "menu m");
    let bye = place(text, "say \"再见");
    let hangup = place(text, "hangup\n    }");
    let queue = place(text, "transfer queue");
    let observed = Observed {
        steps: vec![
            step("play \"welcome", 10, 0),
            step("play \"hours", 10, 0),
            step("menu m", 10, 3),
            step("say \"再见", 4, 0),
            step("hangup\n    }", 4, 0),
            step("transfer queue", 3, 0),
        ],
        edges: vec![
            StepEdge {
                from: None,
                to: Some(welcome),
                count: 10,
            },
            StepEdge {
                from: Some(welcome),
                to: Some(hours),
                count: 10,
            },
            StepEdge {
                from: Some(hours),
                to: Some(menu),
                count: 10,
            },
            StepEdge {
                from: Some(menu),
                to: Some(menu),
                count: 5,
            },
            StepEdge {
                from: Some(menu),
                to: Some(bye),
                count: 4,
            },
            StepEdge {
                from: Some(bye),
                to: Some(hangup),
                count: 4,
            },
            StepEdge {
                from: Some(menu),
                to: Some(queue),
                count: 3,
            },
            // A step of another file (a sub-flow) falls on no node.
            StepEdge {
                from: Some(queue),
                to: Some((99, 1)),
                count: 1,
            },
        ],
    };
    let mut g = graph(text, "t");
    g.apply_traffic(text, &observed);
    g
}

#[test]
fn traffic_is_laid_on_nodes_and_edges() {
    let g = traffic_graph();
    let t = g.traffic.as_ref().expect("traffic");
    let node = |kind: NodeKind, nth: usize| {
        g.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == kind)
            .nth(nth)
            .map(|(i, _)| i)
            .expect("the node")
    };
    let prompts = node(NodeKind::Prompt, 0);
    let menu = node(NodeKind::Menu, 0);
    let transfer = node(NodeKind::Transfer, 0);
    assert_eq!(
        t.nodes[prompts].calls, 10,
        "grouped prompts count calls once"
    );
    assert_eq!((t.nodes[menu].calls, t.nodes[menu].hangups), (10, 3));
    assert_eq!(t.nodes[0].calls, 10, "the start");
    assert!(
        g.nodes[menu]
            .label
            .ends_with("▸ 10 calls · ✕ 3 hung up (30%)"),
        "{}",
        g.nodes[menu].label
    );
    let to_queue = g
        .edges
        .iter()
        .position(|e| e.from == menu && e.to == transfer)
        .expect("menu to queue");
    assert_eq!(t.edges[to_queue], 3);
    assert_eq!(g.edges[to_queue].label.as_deref(), Some("2 · 3"));
    // The no-input and no-match hang-up nobody reached.
    let unreached: Vec<usize> = (0..g.nodes.len())
        .filter(|&v| t.nodes[v].calls == 0)
        .collect();
    assert!(!unreached.is_empty());
    assert!(
        unreached
            .iter()
            .all(|&v| g.nodes[v].kind == NodeKind::Hangup)
    );
    let svg = g.to_svg();
    check_xml(&svg).expect("well-formed");
    assert_eq!(
        svg.matches("class=\"node menu hung-up\"").count(),
        1,
        "{svg}"
    );
    assert_eq!(svg.matches(" unreached\"").count(), unreached.len());
    assert!(
        svg.contains("stroke=\"#1a73e8\" stroke-width=\"7.0\""),
        "the busiest edge is widest"
    );
}

#[test]
fn traffic_in_dot_and_mermaid() {
    let g = traffic_graph();
    insta::assert_snapshot!("traffic_dot", g.to_dot());
    insta::assert_snapshot!("traffic_mermaid", g.to_mermaid());
}
