//! A campaign's list file is looked for in the project folder by `dialect
//! check`: a missing one is named, an existing one is not.

#![allow(clippy::unwrap_used)]

use dialect_lang::{check_project, load_project};

const PROJECT: &str = r#"
calendar days {
  timezone "Asia/Shanghai"
  hours mon-fri 09:00-18:00
}

campaign reminder {
  list debts from "lists/debts.csv" {
    phone: text <- "手机号码"
  }
  mode ivr -> flow reminder_call
  calendar days
  window workday 09:00-12:00
  window weekend none
  window holiday none
}

flow reminder_call {
  hangup
}
"#;

fn list_warnings(with_file: bool) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "dialect-list-files-{}-{with_file}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(dir.join("main.flow"), PROJECT).unwrap();
    if with_file {
        std::fs::write(dir.join("lists/debts.csv"), "手机号码\n13800138000\n").unwrap();
    }
    let project = load_project(std::slice::from_ref(&dir)).unwrap();
    let checked = check_project(project);
    let _ = std::fs::remove_dir_all(&dir);
    checked
        .diagnostics
        .iter()
        .filter(|d| d.code == "missing-list-file")
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn a_missing_list_file_is_named_and_a_present_one_is_not() {
    let missing = list_warnings(false);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains("lists/debts.csv"), "{missing:?}");
    assert!(list_warnings(true).is_empty());
}
