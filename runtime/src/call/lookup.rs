//! Lookups to external systems (REQUIREMENTS F6): the flow's service operation as
//! an HTTP request — GET with the parameters not in the path as a query string,
//! POST with them as a JSON body — bounded by the lookup's time-out. A JSON object
//! answer becomes the record; anything else is a failure the flow's `else` handles.

use std::time::Duration;

use dialect_compiler::exec::{Command, Input};
use dialect_compiler::ir::HttpMethod;
use dialect_compiler::value::Value;

/// Runs a `Command::Lookup`.
pub(super) async fn run(http: &reqwest::Client, cmd: &Command) -> Input {
    let Command::Lookup {
        method,
        url,
        params,
        timeout_ms,
        ..
    } = cmd
    else {
        return Input::Failed("not a lookup".into());
    };
    let timeout = Duration::from_millis((*timeout_ms).max(1) as u64);
    let request = match method {
        HttpMethod::Get => {
            // Every parameter goes in the query too (those in the path are already
            // filled in there; services ignore what they do not use).
            let query: Vec<(String, String)> = params
                .iter()
                .map(|(n, v)| (n.clone(), v.to_text()))
                .collect();
            http.get(url).query(&query)
        }
        HttpMethod::Post => {
            let body: serde_json::Map<String, serde_json::Value> = params
                .iter()
                .map(|(n, v)| (n.clone(), serde_json::to_value(v).unwrap_or_default()))
                .collect();
            http.post(url).json(&body)
        }
    };
    let response = match tokio::time::timeout(timeout, request.timeout(timeout).send()).await {
        Err(_) => return Input::Failed(format!("no answer within {} ms", timeout.as_millis())),
        Ok(Err(e)) => return Input::Failed(short(&e)),
        Ok(Ok(r)) => r,
    };
    if !response.status().is_success() {
        return Input::Failed(format!("the service answered {}", response.status()));
    }
    let body = match tokio::time::timeout(timeout, response.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Input::Failed(short(&e)),
        Err(_) => return Input::Failed("the answer did not arrive in time".into()),
    };
    record(&body)
}

/// A JSON object answer as record fields.
pub(super) fn record(body: &[u8]) -> Input {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Input::Record(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::Bool(b) => Value::Bool(b),
                        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
                        serde_json::Value::String(s) => Value::Text(s),
                        serde_json::Value::Null => Value::Text(String::new()),
                        other => Value::Text(other.to_string()),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Ok(_) => Input::Failed("the answer is not a JSON object".into()),
        Err(e) => Input::Failed(format!("the answer is not JSON: {e}")),
    }
}

fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_become_records() {
        let r = record(br#"{"id":"C1","level":3,"vip":true,"x":null}"#);
        let Input::Record(f) = r else { panic!() };
        assert!(f.contains(&("level".into(), Value::Number(3.0))));
        assert!(f.contains(&("vip".into(), Value::Bool(true))));
        assert!(matches!(record(b"[1]"), Input::Failed(_)));
        assert!(matches!(record(b"nope"), Input::Failed(_)));
    }
}
