//! Lookups to external systems (REQUIREMENTS F6): the flow's service operation as
//! an HTTP request — GET with the parameters not in the path as a query string,
//! POST with them as a JSON body — bounded by the lookup's time-out. A JSON object
//! answer becomes the record, a JSON array of objects the records of an operation
//! declared `-> list of { ... }`; anything else is a failure the flow's `else`
//! handles. A 404 or an empty answer (no body, or `null`) is a failure too,
//! unless the service says `not found -> answer`: then it is an answer with
//! nothing in it.
//!
//! A lookup to this server's own API (the IVR's progress inquiry reads order
//! summaries there) carries the runtime's own token; no other service ever sees it.

use std::net::SocketAddr;
use std::time::Duration;

use dialect_compiler::exec::{Command, Input};
use dialect_compiler::ir::{HttpMethod, NotFound};
use dialect_compiler::value::Value;

/// This server's own HTTP API as lookups reach it.
#[derive(Debug, Clone)]
pub struct OwnApi {
    /// Where the API listens (an unspecified IP: on every address of this machine).
    pub addr: SocketAddr,
    /// The runtime's own token (role `system`), made at each start.
    pub token: String,
}

impl OwnApi {
    /// Whether `url` is this API: plain HTTP to its port, on its address or on
    /// this machine's loopback.
    pub fn is_own(&self, url: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(url) else {
            return false;
        };
        if url.scheme() != "http" || url.port_or_known_default() != Some(self.addr.port()) {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        match host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
        {
            Ok(ip) => ip.is_loopback() || ip == self.addr.ip(),
            Err(_) => false,
        }
    }
}

/// Runs a `Command::Lookup`; `own` is this server's API, whose token goes only
/// to it.
pub(super) async fn run(http: &reqwest::Client, own: Option<&OwnApi>, cmd: &Command) -> Input {
    let Command::Lookup {
        method,
        url,
        params,
        timeout_ms,
        list,
        not_found,
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
    let request = match own {
        Some(api) if api.is_own(url) => request.bearer_auth(&api.token),
        _ => request,
    };
    let response = match tokio::time::timeout(timeout, request.timeout(timeout).send()).await {
        Err(_) => return Input::Failed(format!("no answer within {} ms", timeout.as_millis())),
        Ok(Err(e)) => return Input::Failed(short(&e)),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return nothing_found(*not_found, format!("the service answered {status}"));
    }
    if !status.is_success() {
        return Input::Failed(format!("the service answered {status}"));
    }
    let body = match tokio::time::timeout(timeout, response.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Input::Failed(short(&e)),
        Err(_) => return Input::Failed("the answer did not arrive in time".into()),
    };
    answer(&body, *list, *not_found)
}

/// What a 404 or an empty answer means to the flow.
fn nothing_found(not_found: NotFound, why: String) -> Input {
    match not_found {
        NotFound::Answer => Input::NotFound,
        NotFound::Else => Input::Failed(why),
    }
}

/// A successful answer's body: empty (no bytes, blanks or `null`), one record,
/// or the records of a list.
pub(super) fn answer(body: &[u8], list: bool, not_found: NotFound) -> Input {
    let blank = body.iter().all(u8::is_ascii_whitespace);
    if blank || body.trim_ascii() == b"null" {
        return nothing_found(not_found, "the service answered nothing".into());
    }
    if !list {
        return record(body);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(items)) => {
            let mut records = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    serde_json::Value::Object(m) => records.push(fields(m)),
                    _ => {
                        return Input::Failed(
                            "the answer is a list, but not a list of JSON objects".into(),
                        );
                    }
                }
            }
            Input::Records(records)
        }
        Ok(serde_json::Value::Object(m)) => Input::Records(vec![fields(m)]),
        Ok(_) => Input::Failed("the answer is not a JSON array of objects".into()),
        Err(e) => Input::Failed(format!("the answer is not JSON: {e}")),
    }
}

/// A JSON object answer as record fields.
pub(super) fn record(body: &[u8]) -> Input {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Input::Record(fields(m)),
        Ok(_) => Input::Failed("the answer is not a JSON object".into()),
        Err(e) => Input::Failed(format!("the answer is not JSON: {e}")),
    }
}

/// A JSON object's members as record fields.
fn fields(m: serde_json::Map<String, serde_json::Value>) -> Vec<(String, Value)> {
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
        .collect()
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
    fn only_this_servers_api_gets_the_token() {
        let api = OwnApi {
            addr: "127.0.0.1:8080".parse().unwrap(),
            token: "t".into(),
        };
        assert!(api.is_own("http://127.0.0.1:8080/api/v1/workorders/1/summary"));
        assert!(api.is_own("http://localhost:8080/api/v1"));
        assert!(!api.is_own("http://127.0.0.1:18090/crm"));
        assert!(!api.is_own("https://127.0.0.1:8080/api/v1"));
        assert!(!api.is_own("http://crm.example.com:8080/api/v1"));
        assert!(!api.is_own("http://10.0.0.9:8080/api/v1"));
        let lan = OwnApi {
            addr: "10.0.0.9:8080".parse().unwrap(),
            token: "t".into(),
        };
        assert!(lan.is_own("http://10.0.0.9:8080/api/v1"));
        assert!(!lan.is_own("http://10.0.0.8:8080/api/v1"));
    }

    #[test]
    fn json_objects_become_records() {
        let r = record(br#"{"id":"C1","level":3,"vip":true,"x":null}"#);
        let Input::Record(f) = r else { panic!() };
        assert!(f.contains(&("level".into(), Value::Number(3.0))));
        assert!(f.contains(&("vip".into(), Value::Bool(true))));
        assert!(matches!(record(b"[1]"), Input::Failed(_)));
        assert!(matches!(record(b"nope"), Input::Failed(_)));
    }

    #[test]
    fn json_arrays_become_the_records_of_a_list() {
        let r = answer(
            br#"[{"month":"10","amount":58.5},{"month":"11","amount":61}]"#,
            true,
            NotFound::Else,
        );
        let Input::Records(items) = r else {
            panic!("{r:?}")
        };
        assert_eq!(items.len(), 2);
        assert!(items[1].contains(&("amount".into(), Value::Number(61.0))));
        assert!(matches!(answer(b"[]", true, NotFound::Else), Input::Records(v) if v.is_empty()));
        assert!(matches!(
            answer(b"[1, 2]", true, NotFound::Else),
            Input::Failed(_)
        ));
        assert!(matches!(
            answer(b"\"x\"", true, NotFound::Else),
            Input::Failed(_)
        ));
    }

    #[test]
    fn an_empty_answer_is_a_failure_unless_the_service_says_otherwise() {
        for body in [&b""[..], b"  \n", b"null"] {
            for list in [false, true] {
                assert!(matches!(
                    answer(body, list, NotFound::Else),
                    Input::Failed(_)
                ));
                assert!(matches!(
                    answer(body, list, NotFound::Answer),
                    Input::NotFound
                ));
            }
        }
        assert!(matches!(
            nothing_found(NotFound::Else, "404".into()),
            Input::Failed(_)
        ));
        assert!(matches!(
            nothing_found(NotFound::Answer, "404".into()),
            Input::NotFound
        ));
    }
}
