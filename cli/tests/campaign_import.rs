//! `dialect campaign import`: the hotline's sample lists read as the server
//! reads them, and a broken list named with its rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn import(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dialect"))
        .args(["campaign", "import"])
        .arg(repo().join("flows/hotline"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_sample_lists_are_read_whole_and_every_row_is_counted() {
    for (campaign, rows) in [("payment_reminder", 36), ("retention", 30)] {
        let (ok, out, err) = import(&[campaign, "--json"]);
        assert!(ok, "{err}");
        let r: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(r["rows"], rows, "{r}");
        let filtered: u64 = r["filtered"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let accounted = r["imported"].as_u64().unwrap()
            + r["duplicates"].as_u64().unwrap()
            + filtered
            + r["rejected_total"].as_u64().unwrap();
        assert_eq!(accounted, rows, "every row in one count: {r}");
    }
}

#[test]
fn a_bad_row_is_reported_by_its_row_number_and_nothing_is_stored() {
    let dir = std::env::temp_dir().join(format!("dialect-campaign-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.csv");
    std::fs::write(
        &file,
        "手机号码,客户姓名,欠费金额,缴费截止日,号码状态,拒绝提醒\n\
         13800138000,张三,50,2026-12-08,正常,否\n\
         not a number,李四,50,2026-12-08,正常,否\n\
         13900139000,王五,lots,2026-12-08,正常,否\n",
    )
    .unwrap();
    let (ok, out, err) = import(&["payment_reminder", file.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{err}");
    assert!(out.contains("nothing stored"), "{out}");
    assert!(out.contains("2 rows rejected"), "{out}");
    assert!(out.contains("row 3:"), "{out}");
    assert!(out.contains("row 4:"), "{out}");
}

#[test]
fn a_list_without_the_mapped_columns_is_refused_whole() {
    let dir = std::env::temp_dir().join(format!("dialect-campaign-refuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("wrong.csv");
    std::fs::write(&file, "phone,name\n13800138000,张三\n").unwrap();
    let (ok, _, err) = import(&["payment_reminder", file.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok);
    assert!(err.contains("手机号码"), "names the missing column: {err}");
}
