//! Workorder benchmarks (written below).
fn main() {}
