//! SVG output with a layout of our own, so `dialect graph` needs no Graphviz:
//! longest-path layers from the start, barycenter sweeps to reduce crossings,
//! x positions smoothed by isotonic regression, edge labels on their own rows,
//! loops drawn as curves on the right side; sub-flows drawn inside their
//! caller in framed boxes on its right, each linked from its calls.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{
    EdgeKind, FlowGraph, HANGUP_STROKE, Node, NodeKind, SUBFLOW_STROKE, TRAFFIC_STROKE, classify,
    colours,
};
use crate::source::str_width;

const FONT: f64 = 13.0;
const CHAR_W: f64 = 7.2;
const LINE_H: f64 = 17.0;
const PAD_X: f64 = 14.0;
const PAD_Y: f64 = 9.0;
const LABEL_FONT: f64 = 11.5;
const LABEL_CHAR_W: f64 = 6.5;
const LABEL_LINE_H: f64 = 15.0;
const RANK_GAP: f64 = 16.0;
const NODE_GAP: f64 = 28.0;
const DUMMY_GAP: f64 = 10.0;
const MARGIN: f64 = 20.0;

fn text_width(s: &str, char_w: f64) -> f64 {
    s.lines().map(str_width).max().unwrap_or(0) as f64 * char_w
}

fn node_size(n: &Node) -> (f64, f64) {
    let lines = n.label.lines().count().max(1) as f64;
    let tw = text_width(&n.label, CHAR_W);
    let th = lines * LINE_H;
    let (w, h) = match n.kind {
        NodeKind::Decision => {
            let h = th + 2.0 * PAD_Y + 14.0;
            (tw / (1.0 - th / h) + 2.0 * PAD_X, h)
        }
        NodeKind::Transfer => (tw + 2.0 * PAD_X + 24.0, th + 2.0 * PAD_Y),
        NodeKind::Lookup => (tw + 2.0 * PAD_X + 20.0, th + 2.0 * PAD_Y),
        NodeKind::SubFlow => (tw + 2.0 * PAD_X + 16.0, th + 2.0 * PAD_Y),
        k if k.terminal() => {
            let h = th + 2.0 * PAD_Y;
            (tw + 2.0 * PAD_X + h / 2.0, h)
        }
        _ => (tw + 2.0 * PAD_X, th + 2.0 * PAD_Y),
    };
    (w.max(48.0), h)
}

#[derive(Debug, Clone)]
struct Vtx {
    /// The node drawn here, or `None` for a point an edge passes through.
    node: Option<usize>,
    w: f64,
    h: f64,
    rank: usize,
    x: f64,
    y: f64,
}

struct Layout {
    vtx: Vec<Vtx>,
    /// Top and bottom of each rank's row.
    rows: Vec<(f64, f64)>,
    /// For each forward edge: the vertices it passes, source first.
    paths: Vec<(usize, Vec<usize>)>,
    back: Vec<usize>,
}

/// Isotonic regression (pool adjacent violators): the non-decreasing sequence
/// closest to `t` in the least-squares sense.
fn isotonic(t: &[f64]) -> Vec<f64> {
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for &v in t {
        blocks.push((v, 1));
        while blocks.len() >= 2 {
            let (s2, n2) = blocks[blocks.len() - 1];
            let (s1, n1) = blocks[blocks.len() - 2];
            if s1 / n1 as f64 > s2 / n2 as f64 {
                blocks.pop();
                blocks.pop();
                blocks.push((s1 + s2, n1 + n2));
            } else {
                break;
            }
        }
    }
    blocks
        .into_iter()
        .flat_map(|(s, n)| std::iter::repeat_n(s / n as f64, n))
        .collect()
}

fn layout(g: &FlowGraph) -> Layout {
    let (back, order) = classify(g);
    let n = g.nodes.len();
    // Longest-path layers over the edges that do not close loops.
    let mut indeg = vec![0usize; n];
    for (i, e) in g.edges.iter().enumerate() {
        if !back[i] {
            indeg[e.to] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = order.iter().copied().filter(|&v| indeg[v] == 0).collect();
    ready.reverse();
    while let Some(v) = ready.pop() {
        for (i, e) in g.edges.iter().enumerate() {
            if back[i] || e.from != v {
                continue;
            }
            layer[e.to] = layer[e.to].max(layer[v] + 1);
            indeg[e.to] -= 1;
            if indeg[e.to] == 0 {
                ready.push(e.to);
            }
        }
    }
    let mut vtx: Vec<Vtx> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let (w, h) = node_size(node);
            Vtx {
                node: Some(i),
                w,
                h,
                rank: 2 * layer[i],
                x: 0.0,
                y: 0.0,
            }
        })
        .collect();
    let mut key: Vec<f64> = vec![0.0; n];
    for (k, &v) in order.iter().enumerate() {
        key[v] = k as f64;
    }
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut paths = Vec::new();
    let mut back_edges = Vec::new();
    for (i, e) in g.edges.iter().enumerate() {
        if back[i] {
            back_edges.push(i);
            continue;
        }
        let mut path = vec![e.from];
        let mut prev = e.from;
        for r in vtx[e.from].rank + 1..vtx[e.to].rank {
            let label = if r == vtx[e.from].rank + 1 {
                e.label.clone()
            } else {
                None
            };
            let (w, h) = match &label {
                Some(l) => (
                    text_width(l, LABEL_CHAR_W) + 10.0,
                    l.lines().count() as f64 * LABEL_LINE_H + 4.0,
                ),
                None => (8.0, 0.0),
            };
            let d = vtx.len();
            vtx.push(Vtx {
                node: None,
                w,
                h,
                rank: r,
                x: 0.0,
                y: 0.0,
            });
            key.push(key[e.from] + 0.001 * (i + 1) as f64);
            up.push(vec![prev]);
            down.push(Vec::new());
            down[prev].push(d);
            path.push(d);
            prev = d;
        }
        down[prev].push(e.to);
        up[e.to].push(prev);
        path.push(e.to);
        paths.push((i, path));
    }
    let max_rank = vtx.iter().map(|v| v.rank).max().unwrap_or(0);
    let mut ranks: Vec<Vec<usize>> = vec![Vec::new(); max_rank + 1];
    for (i, v) in vtx.iter().enumerate() {
        ranks[v.rank].push(i);
    }
    for r in &mut ranks {
        r.sort_by(|a, b| key[*a].total_cmp(&key[*b]));
    }
    order_ranks(&mut ranks, &up, &down, vtx.len());
    place_x(&mut vtx, &ranks, &up, &down);
    // Rows: node ranks as tall as their tallest node, label ranks as their tallest label.
    let mut y = MARGIN;
    let mut rows = Vec::new();
    for r in &ranks {
        let h = r.iter().map(|&v| vtx[v].h).fold(0.0, f64::max);
        for &v in r {
            vtx[v].y = y + h / 2.0;
        }
        rows.push((y, y + h));
        y += h + RANK_GAP;
    }
    Layout {
        vtx,
        rows,
        paths,
        back: back_edges,
    }
}

fn crossings(ranks: &[Vec<usize>], down: &[Vec<usize>], pos: &[usize]) -> usize {
    let mut total = 0;
    for r in ranks {
        let mut segs: Vec<(usize, usize)> = Vec::new();
        for &v in r {
            for &w in &down[v] {
                segs.push((pos[v], pos[w]));
            }
        }
        for i in 0..segs.len() {
            for j in i + 1..segs.len() {
                let (a, b) = (segs[i], segs[j]);
                if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                    total += 1;
                }
            }
        }
    }
    total
}

/// Barycenter sweeps down and up; keeps the order with the fewest crossings.
fn order_ranks(ranks: &mut [Vec<usize>], up: &[Vec<usize>], down: &[Vec<usize>], n: usize) {
    let mut pos = vec![0usize; n];
    let set_pos = |ranks: &[Vec<usize>], pos: &mut Vec<usize>| {
        for r in ranks {
            for (i, &v) in r.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    set_pos(ranks, &mut pos);
    let mut best = ranks.to_vec();
    let mut best_c = crossings(ranks, down, &pos);
    for it in 0..12 {
        let downward = it % 2 == 0;
        let idx: Vec<usize> = if downward {
            (1..ranks.len()).collect()
        } else {
            (0..ranks.len().saturating_sub(1)).rev().collect()
        };
        for r in idx {
            let adj = if downward { up } else { down };
            let mut keyed: Vec<(f64, usize)> = ranks[r]
                .iter()
                .map(|&v| {
                    let nb = &adj[v];
                    let k = if nb.is_empty() {
                        pos[v] as f64
                    } else {
                        nb.iter().map(|&w| pos[w] as f64).sum::<f64>() / nb.len() as f64
                    };
                    (k, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            ranks[r] = keyed.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in ranks[r].iter().enumerate() {
                pos[v] = i;
            }
        }
        let c = crossings(ranks, down, &pos);
        if c < best_c {
            best_c = c;
            best = ranks.to_vec();
        }
    }
    ranks.clone_from_slice(&best);
}

/// Horizontal positions: each vertex pulled towards the mean of its neighbours,
/// keeping the order of its rank and the gaps (least squares, by isotonic regression).
fn place_x(vtx: &mut [Vtx], ranks: &[Vec<usize>], up: &[Vec<usize>], down: &[Vec<usize>]) {
    let sep = |vtx: &[Vtx], a: usize, b: usize| {
        let gap = match (vtx[a].node.is_some(), vtx[b].node.is_some()) {
            (true, true) => NODE_GAP,
            (false, false) => DUMMY_GAP,
            _ => NODE_GAP / 2.0 + 4.0,
        };
        (vtx[a].w + vtx[b].w) / 2.0 + gap
    };
    let place = |vtx: &mut [Vtx], r: &[usize], desired: &[f64]| {
        let mut c = vec![0.0; r.len()];
        for i in 1..r.len() {
            c[i] = c[i - 1] + sep(vtx, r[i - 1], r[i]);
        }
        let t: Vec<f64> = desired.iter().zip(&c).map(|(d, c)| d - c).collect();
        let y = isotonic(&t);
        for (i, &v) in r.iter().enumerate() {
            vtx[v].x = y[i] + c[i];
        }
    };
    for r in ranks {
        place(vtx, r, &vec![0.0; r.len()]);
    }
    for it in 0..24 {
        let both = it >= 20;
        let downward = it % 2 == 0;
        let idx: Vec<usize> = if downward {
            (0..ranks.len()).collect()
        } else {
            (0..ranks.len()).rev().collect()
        };
        for ri in idx {
            let r = &ranks[ri];
            let desired: Vec<f64> = r
                .iter()
                .map(|&v| {
                    let mut nb: Vec<usize> = Vec::new();
                    if downward || both {
                        nb.extend(&up[v]);
                    }
                    if !downward || both {
                        nb.extend(&down[v]);
                    }
                    // A long edge runs straight: its points follow each other only.
                    if vtx[v].node.is_none() && nb.iter().any(|&w| vtx[w].node.is_none()) {
                        nb.retain(|&w| vtx[w].node.is_none());
                    }
                    if nb.is_empty() {
                        vtx[v].x
                    } else {
                        nb.iter().map(|&w| vtx[w].x).sum::<f64>() / nb.len() as f64
                    }
                })
                .collect();
            place(vtx, r, &desired);
        }
    }
    let min = vtx
        .iter()
        .map(|v| v.x - v.w / 2.0)
        .fold(f64::INFINITY, f64::min);
    if min.is_finite() {
        for v in vtx.iter_mut() {
            v.x += MARGIN - min;
        }
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A `<text>` of several lines centred on `(x, y)`.
fn svg_text(
    out: &mut String,
    x: f64,
    y: f64,
    text: &str,
    size: f64,
    line_h: f64,
    bold_first: bool,
) {
    let lines: Vec<&str> = text.lines().collect();
    let top = y - (lines.len() as f64 - 1.0) * line_h / 2.0 + size * 0.35;
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{top:.1}\" text-anchor=\"middle\" font-size=\"{size}\">"
    );
    for (i, l) in lines.iter().enumerate() {
        let dy = if i == 0 { 0.0 } else { line_h };
        let weight = if i == 0 && bold_first {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tspan x=\"{x:.1}\" dy=\"{dy:.1}\"{weight}>{}</tspan>",
            xml_escape(l)
        );
    }
    out.push_str("</text>");
}

fn edge_label(out: &mut String, x: f64, y: f64, label: &str) {
    let w = text_width(label, LABEL_CHAR_W) + 8.0;
    let h = label.lines().count() as f64 * LABEL_LINE_H + 2.0;
    let _ = write!(
        out,
        "<g class=\"edge-label\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.92\"/>",
        x - w / 2.0,
        y - h / 2.0
    );
    svg_text(out, x, y, label, LABEL_FONT, LABEL_LINE_H, false);
    out.push_str("</g>\n");
}

fn node_shape(out: &mut String, v: &Vtx, kind: NodeKind) {
    let (fill, stroke) = colours(kind);
    let (x, y, w, h) = (v.x, v.y, v.w, v.h);
    let (l, t, r, b) = (x - w / 2.0, y - h / 2.0, x + w / 2.0, y + h / 2.0);
    let style = format!("fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.4\"");
    match kind {
        NodeKind::Decision => {
            let _ = write!(
                out,
                "<polygon points=\"{x:.1},{t:.1} {r:.1},{y:.1} {x:.1},{b:.1} {l:.1},{y:.1}\" {style}/>"
            );
        }
        NodeKind::Transfer => {
            let s = 12.0;
            let _ = write!(
                out,
                "<polygon points=\"{:.1},{t:.1} {r:.1},{t:.1} {:.1},{b:.1} {l:.1},{b:.1}\" {style}/>",
                l + s,
                r - s
            );
        }
        NodeKind::Lookup => {
            let s = 10.0;
            let _ = write!(
                out,
                "<polygon points=\"{:.1},{t:.1} {:.1},{t:.1} {r:.1},{y:.1} {:.1},{b:.1} {:.1},{b:.1} {l:.1},{y:.1}\" {style}/>",
                l + s,
                r - s,
                r - s,
                l + s
            );
        }
        NodeKind::SubFlow => {
            let _ = write!(
                out,
                "<rect x=\"{l:.1}\" y=\"{t:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" {style}/>\
                 <line x1=\"{:.1}\" y1=\"{t:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\" stroke=\"{stroke}\"/>\
                 <line x1=\"{:.1}\" y1=\"{t:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\" stroke=\"{stroke}\"/>",
                l + 7.0,
                l + 7.0,
                r - 7.0,
                r - 7.0
            );
        }
        NodeKind::Workorder | NodeKind::Notify => {
            let f = 9.0;
            let _ = write!(
                out,
                "<polygon points=\"{l:.1},{t:.1} {:.1},{t:.1} {r:.1},{:.1} {r:.1},{b:.1} {l:.1},{b:.1}\" {style}/>",
                r - f,
                t + f
            );
        }
        k if k.terminal() => {
            let width = if matches!(k, NodeKind::Start | NodeKind::ErrorHandler) {
                1.4
            } else {
                2.2
            };
            let _ = write!(
                out,
                "<rect x=\"{l:.1}\" y=\"{t:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"{:.1}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
                h / 2.0
            );
        }
        _ => {
            let _ = write!(
                out,
                "<rect x=\"{l:.1}\" y=\"{t:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"7\" {style}/>"
            );
        }
    }
}

impl FlowGraph {
    /// The graph drawn as SVG, laid out here with no external program.
    pub fn to_svg(&self) -> String {
        let drawing = self.svg_drawing("");
        let (width, height) = (drawing.width, drawing.height);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"'Helvetica Neue', Arial, 'PingFang SC', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif\" font-size=\"{FONT}\" fill=\"#202124\">"
        );
        let _ = writeln!(out, "<title>flow {}</title>", xml_escape(&self.name));
        out.push_str(
            "<defs>\
             <marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5f6368\"/></marker>\
             <marker id=\"arrow-jump\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#8e5bd6\"/></marker>\
             </defs>\n",
        );
        out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        out.push_str(&drawing.body);
        out.push_str("</svg>\n");
        out
    }

    /// The flow drawn, node ids prefixed with `prefix`, with its sub-flows in
    /// framed boxes on its right, one under the other, each linked from the
    /// nodes that call it.
    fn svg_drawing(&self, prefix: &str) -> Drawing {
        let lay = layout(self);
        let vtx = &lay.vtx;
        let mut edges_svg = String::new();
        let mut labels_svg = String::new();
        // Ports: edges leave a node's bottom and enter its top spread out in the
        // order of where they go, so they do not start on top of each other.
        let mut out_port: HashMap<(usize, usize), f64> = HashMap::new();
        let mut in_port: HashMap<(usize, usize), f64> = HashMap::new();
        for (side, map) in [(0, &mut out_port), (1, &mut in_port)] {
            let mut per_node: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
            for (pi, (_, path)) in lay.paths.iter().enumerate() {
                let (node, other) = if side == 0 {
                    (path[0], path[1])
                } else {
                    (path[path.len() - 1], path[path.len() - 2])
                };
                per_node.entry(node).or_default().push((vtx[other].x, pi));
            }
            for (node, mut list) in per_node {
                list.sort_by(|a, b| a.0.total_cmp(&b.0));
                let v = &vtx[node];
                let diamond = v
                    .node
                    .is_some_and(|i| self.nodes[i].kind == NodeKind::Decision);
                let k = list.len() as f64;
                let step = if diamond {
                    0.0
                } else {
                    (v.w * 0.6 / k).min(14.0)
                };
                for (j, (_, pi)) in list.into_iter().enumerate() {
                    map.insert((node, pi), v.x + (j as f64 - (k - 1.0) / 2.0) * step);
                }
            }
        }
        for (pi, (ei, path)) in lay.paths.iter().enumerate() {
            let e = &self.edges[*ei];
            let first = &vtx[path[0]];
            let last = &vtx[path[path.len() - 1]];
            let mut pts: Vec<(f64, f64)> = vec![(
                out_port.get(&(path[0], pi)).copied().unwrap_or(first.x),
                first.y + first.h / 2.0,
            )];
            for &d in &path[1..path.len() - 1] {
                pts.push((vtx[d].x, vtx[d].y));
            }
            pts.push((
                in_port
                    .get(&(path[path.len() - 1], pi))
                    .copied()
                    .unwrap_or(last.x),
                last.y - last.h / 2.0,
            ));
            let mut d = format!("M{:.1},{:.1}", pts[0].0, pts[0].1);
            for w in pts.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                let dy = (y1 - y0) / 2.0;
                let _ = write!(
                    d,
                    " C{x0:.1},{:.1} {x1:.1},{:.1} {x1:.1},{y1:.1}",
                    y0 + dy,
                    y1 - dy
                );
            }
            let (class, dash, marker) = edge_style(e.kind);
            let (stroke, width) = self.edge_stroke(*ei);
            let _ = writeln!(
                edges_svg,
                "<path class=\"{class}\" d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width:.1}\"{dash} marker-end=\"url(#{marker})\"/>",
            );
            if let Some(l) = &e.label
                && let Some(&lv) = path.get(1)
            {
                edge_label(&mut labels_svg, vtx[lv].x, vtx[lv].y, l);
            }
        }
        // Loops go round on the right: down into the gap below their source, right
        // past every node of the rows they span, up into the gap above their target,
        // and down into it. Each gets its own lane, so they never cross a node.
        let mut lanes: Vec<(usize, usize, usize)> = Vec::new();
        let mut from_count: HashMap<usize, usize> = HashMap::new();
        let mut to_count: HashMap<usize, usize> = HashMap::new();
        let mut below_count: HashMap<usize, usize> = HashMap::new();
        let mut above_count: HashMap<usize, usize> = HashMap::new();
        let mut right_extent: f64 = vtx.iter().map(|v| v.x + v.w / 2.0).fold(0.0, f64::max);
        let mut bottom_extent: f64 = lay.rows.last().map_or(0.0, |r| r.1);
        let mut back = lay.back.clone();
        back.sort_by_key(|&e| {
            let e = &self.edges[e];
            vtx[e.from].rank.abs_diff(vtx[e.to].rank)
        });
        let is_diamond = |v: usize| {
            vtx[v]
                .node
                .is_some_and(|i| self.nodes[i].kind == NodeKind::Decision)
        };
        let next = |map: &mut HashMap<usize, usize>, key: usize| {
            let k = map.entry(key).or_insert(0);
            *k += 1;
            (*k - 1) as f64
        };
        for ei in back {
            let e = &self.edges[ei];
            let (s, t) = (&vtx[e.from], &vtx[e.to]);
            let (lo, hi) = (t.rank.min(s.rank), s.rank.max(t.rank));
            let lane = (0..)
                .find(|&l| {
                    !lanes
                        .iter()
                        .any(|&(a, b, used)| used == l && a <= hi + 1 && lo <= b + 1)
                })
                .unwrap_or(0);
            lanes.push((lo, hi, lane));
            let base = vtx
                .iter()
                .filter(|v| v.rank + 1 >= lo && v.rank <= hi + 1)
                .map(|v| v.x + v.w / 2.0)
                .fold(0.0, f64::max);
            let x_out = base + 20.0 + 16.0 * lane as f64;
            let sx = if is_diamond(e.from) {
                s.x
            } else {
                s.x + (s.w / 2.0 - 12.0 - 7.0 * next(&mut from_count, e.from)).max(0.0)
            };
            let tx = if is_diamond(e.to) {
                t.x
            } else {
                t.x + (t.w / 2.0 - 12.0 - 7.0 * next(&mut to_count, e.to)).max(0.0)
            };
            let y1 = lay.rows[s.rank].1 + 5.0 + 4.0 * next(&mut below_count, s.rank);
            let y2 = lay.rows[t.rank].0 - 5.0 - 4.0 * next(&mut above_count, t.rank);
            let pts = [
                (sx, s.y + s.h / 2.0),
                (sx, y1),
                (x_out, y1),
                (x_out, y2),
                (tx, y2),
                (tx, t.y - t.h / 2.0),
            ];
            let d = rounded_path(&pts, 9.0);
            let (class, dash, marker) = edge_style(e.kind);
            let (stroke, width) = self.edge_stroke(ei);
            let _ = writeln!(
                edges_svg,
                "<path class=\"back {class}\" d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width:.1}\"{dash} marker-end=\"url(#{marker})\"/>",
            );
            let label_w = e
                .label
                .as_ref()
                .map_or(0.0, |l| text_width(l, LABEL_CHAR_W) + 8.0);
            if let Some(l) = &e.label {
                edge_label(&mut labels_svg, x_out, (y1 + y2) / 2.0, l);
            }
            right_extent = right_extent.max(x_out + label_w / 2.0 + 2.0);
            bottom_extent = bottom_extent.max(y1);
        }
        let mut width = right_extent + MARGIN;
        let mut height = bottom_extent + MARGIN;
        // The sub-flows, in boxes to the right of the flow.
        let mut boxes = String::new();
        let left = width + SUBFLOW_GAP;
        let mut top = MARGIN;
        for (k, sub) in self.subflows.iter().enumerate() {
            let inner = sub.svg_drawing(&format!("{prefix}s{k}-"));
            let (w, h) = (
                inner.width + 2.0 * SUBFLOW_PAD,
                inner.height + SUBFLOW_TITLE_H + SUBFLOW_PAD,
            );
            let _ = write!(
                boxes,
                "<g class=\"subflow\" id=\"{prefix}s{k}\"><rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"12\" fill=\"#fafafa\" stroke=\"{SUBFLOW_STROKE}\" stroke-dasharray=\"6 4\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>\n<g transform=\"translate({:.1},{:.1})\">\n",
                left + SUBFLOW_PAD,
                top + 20.0,
                xml_escape(&sub.cluster_title()),
                left + SUBFLOW_PAD,
                top + SUBFLOW_TITLE_H,
            );
            boxes.push_str(&inner.body);
            boxes.push_str("</g></g>\n");
            // From each call's right side to the box's title.
            for call in self.calls_of(&sub.name) {
                let Some(v) = vtx.iter().find(|v| v.node == Some(call)) else {
                    continue;
                };
                let (x0, y0) = (v.x + v.w / 2.0, v.y);
                let (x1, y1) = (left, top + SUBFLOW_TITLE_H / 2.0);
                let mid = (x0 + x1) / 2.0;
                let _ = writeln!(
                    edges_svg,
                    "<path class=\"subflow-link\" d=\"M{x0:.1},{y0:.1} C{mid:.1},{y0:.1} {mid:.1},{y1:.1} {x1:.1},{y1:.1}\" fill=\"none\" stroke=\"{SUBFLOW_STROKE}\" stroke-width=\"1.3\" stroke-dasharray=\"5 4\" marker-end=\"url(#arrow)\"/>",
                );
            }
            top += h + SUBFLOW_GAP;
            width = width.max(left + w + MARGIN);
            height = height.max(top);
        }
        let mut out = String::new();
        out.push_str("<g class=\"edges\">\n");
        out.push_str(&edges_svg);
        out.push_str("</g>\n<g class=\"edge-labels\">\n");
        out.push_str(&labels_svg);
        out.push_str("</g>\n<g class=\"nodes\">\n");
        for v in vtx {
            let Some(i) = v.node else { continue };
            let node = &self.nodes[i];
            let hangups = self.hangups_at(i);
            let (mark, opacity) = if hangups > 0 {
                (" hung-up", "")
            } else if self.unreached(i) {
                (" unreached", " opacity=\"0.45\"")
            } else {
                ("", "")
            };
            let _ = write!(
                out,
                "<g class=\"node {}{mark}\" id=\"{prefix}n{i}\"{opacity}>",
                node.kind.word()
            );
            node_shape(&mut out, v, node.kind);
            if hangups > 0 {
                // A red frame round the node and a badge at its corner.
                let (l, t, w, h) = (v.x - v.w / 2.0, v.y - v.h / 2.0, v.w, v.h);
                let _ = write!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"9\" fill=\"none\" stroke=\"{HANGUP_STROKE}\" stroke-width=\"3\"/>\
                     <circle cx=\"{:.1}\" cy=\"{t:.1}\" r=\"9\" fill=\"{HANGUP_STROKE}\"/>\
                     <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" font-weight=\"bold\" fill=\"#ffffff\">✕</text>",
                    l - 3.0,
                    t - 3.0,
                    w + 6.0,
                    h + 6.0,
                    l + w,
                    l + w,
                    t + 4.0,
                );
            }
            svg_text(
                &mut out,
                v.x,
                v.y,
                &node.label,
                FONT,
                LINE_H,
                node.kind == NodeKind::Menu,
            );
            out.push_str("</g>\n");
        }
        out.push_str("</g>\n");
        out.push_str(&boxes);
        Drawing {
            body: out,
            width,
            height,
        }
    }
}

/// A flow drawn, without the document around it.
struct Drawing {
    /// Edges, their labels, nodes and sub-flow boxes.
    body: String,
    width: f64,
    height: f64,
}

/// Room between a flow and its sub-flows' boxes, and between boxes.
const SUBFLOW_GAP: f64 = 40.0;
/// Room inside a sub-flow's box round its diagram.
const SUBFLOW_PAD: f64 = 12.0;
/// Height of a sub-flow box's title row.
const SUBFLOW_TITLE_H: f64 = 30.0;

impl FlowGraph {
    /// An edge's colour and width: by its calls when figures are laid on,
    /// else by its kind.
    fn edge_stroke(&self, e: usize) -> (&'static str, f64) {
        match &self.traffic {
            Some(t) if t.edges.get(e).is_some_and(|&c| c > 0) => (TRAFFIC_STROKE, t.edge_width(e)),
            _ => (edge_colour(self.edges[e].kind), 1.3),
        }
    }
}

/// The colour of an edge: jumps in the purple of their arrows.
fn edge_colour(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Next => "#5f6368",
        _ => "#8e5bd6",
    }
}

/// A path through `pts` (horizontal and vertical runs) with rounded corners.
fn rounded_path(pts: &[(f64, f64)], radius: f64) -> String {
    let mut d = String::new();
    let Some(&(x0, y0)) = pts.first() else {
        return d;
    };
    let _ = write!(d, "M{x0:.1},{y0:.1}");
    for i in 1..pts.len() {
        let (x, y) = pts[i];
        if i + 1 == pts.len() {
            let _ = write!(d, " L{x:.1},{y:.1}");
            break;
        }
        let (px, py) = pts[i - 1];
        let (nx, ny) = pts[i + 1];
        let d1 = ((x - px).powi(2) + (y - py).powi(2)).sqrt();
        let d2 = ((nx - x).powi(2) + (ny - y).powi(2)).sqrt();
        let r = radius.min(d1 / 2.0).min(d2 / 2.0);
        if r <= 0.01 {
            let _ = write!(d, " L{x:.1},{y:.1}");
            continue;
        }
        let (ax, ay) = (x - (x - px) / d1 * r, y - (y - py) / d1 * r);
        let (bx, by) = (x + (nx - x) / d2 * r, y + (ny - y) / d2 * r);
        let _ = write!(d, " L{ax:.1},{ay:.1} Q{x:.1},{y:.1} {bx:.1},{by:.1}");
    }
    d
}

/// CSS class, dash attribute and arrow marker of an edge.
fn edge_style(kind: EdgeKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        EdgeKind::Next => ("edge", "", "arrow"),
        EdgeKind::Goto => ("edge goto", " stroke-dasharray=\"5 4\"", "arrow-jump"),
        EdgeKind::Repeat => ("edge repeat", " stroke-dasharray=\"5 4\"", "arrow-jump"),
        EdgeKind::Retry => ("edge retry", " stroke-dasharray=\"2 3\"", "arrow-jump"),
    }
}
