//! Who the people behind a reminder's or an escalation's recipients are, and
//! where they are reached: the lifecycle names roles (`supervisor`, a project
//! role such as `dispatcher`), departments and `handler`; the configuration
//! lists the API users with their role, department and contact addresses,
//! and maps project roles to users (`roles:`). The engine holds one
//! [`Directory`] built from the configuration.

use std::collections::BTreeMap;

use crate::config::{ApiUser, Role};
use crate::workorder::model::Workorder;

/// A person who can be told about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The API user's name.
    pub name: String,
    /// Their API role.
    pub role: Role,
    /// Their department.
    pub department: Option<String>,
    /// Where e-mail reaches them.
    pub email: Option<String>,
    /// Where SMS reach them.
    pub phone: Option<String>,
}

/// The API users and the project roles they have, as the configuration says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    people: BTreeMap<String, Person>,
    /// Project role → user names (`roles:`).
    roles: BTreeMap<String, Vec<String>>,
}

/// The people a recipient name stands for, or why it stands for nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// The people found, by name, each once.
    pub people: Vec<Person>,
    /// Names that should have been people and are not (a `roles:` entry or
    /// an order's handler that is no API user), or why nobody was found.
    pub problems: Vec<String>,
}

impl Directory {
    /// From the `api_users` and `roles` sections of the configuration.
    pub fn new(users: &[ApiUser], roles: &BTreeMap<String, Vec<String>>) -> Directory {
        let people = users
            .iter()
            .map(|u| {
                (
                    u.name.clone(),
                    Person {
                        name: u.name.clone(),
                        role: u.role,
                        department: u.department.clone(),
                        email: u.email.clone().filter(|e| !e.trim().is_empty()),
                        phone: u.phone.clone().filter(|p| !p.trim().is_empty()),
                    },
                )
            })
            .collect();
        Directory {
            people,
            roles: roles.clone(),
        }
    }

    /// The people `recipient` (a name from a lifecycle's `remind`/`escalate`
    /// list) stands for when order `o` is overdue: `handler` is the order's
    /// handler, or its department's handlers while it has none; a project
    /// role is its users; an API role is the users with that role; a
    /// department is its users; a user's name is that user.
    pub fn reach(&self, recipient: &str, o: &Workorder) -> Reached {
        let mut found: BTreeMap<&str, &Person> = BTreeMap::new();
        let mut problems = Vec::new();
        if recipient == "handler" {
            match &o.handler {
                Some(h) => match self.people.get(h) {
                    Some(p) => {
                        found.insert(&p.name, p);
                    }
                    None => problems.push(format!(
                        "the handler `{h}` of workorder {} is no API user, so has no address",
                        o.number
                    )),
                },
                None => {
                    for p in self.people.values() {
                        if p.role == Role::Handler
                            && o.department.is_some()
                            && p.department == o.department
                        {
                            found.insert(&p.name, p);
                        }
                    }
                }
            }
            if found.is_empty() && problems.is_empty() {
                problems.push(match &o.department {
                    Some(d) => format!(
                        "workorder {} has no handler and no API user handles for `{d}`",
                        o.number
                    ),
                    None => format!(
                        "workorder {} has neither a handler nor a department",
                        o.number
                    ),
                });
            }
            return Reached {
                people: found.into_values().cloned().collect(),
                problems,
            };
        }
        if let Some(names) = self.roles.get(recipient) {
            for n in names {
                match self.people.get(n) {
                    Some(p) => {
                        found.insert(&p.name, p);
                    }
                    None => problems.push(format!(
                        "roles: `{n}` has the role `{recipient}` but is no API user, so has no address"
                    )),
                }
            }
        }
        let api_role = recipient.parse::<Role>().ok();
        for p in self.people.values() {
            if api_role == Some(p.role)
                || p.department.as_deref() == Some(recipient)
                || p.name == recipient
            {
                found.insert(&p.name, p);
            }
        }
        if found.is_empty() && problems.is_empty() {
            problems.push(format!(
                "no API user has the role, department or name `{recipient}`"
            ));
        }
        Reached {
            people: found.into_values().cloned().collect(),
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, role: Role, dept: Option<&str>, email: Option<&str>) -> ApiUser {
        ApiUser {
            name: name.into(),
            token: format!("t-{name}-0123456789abcdef"),
            password: None,
            role,
            department: dept.map(String::from),
            email: email.map(String::from),
            phone: None,
        }
    }

    fn order(dept: Option<&str>, handler: Option<&str>) -> Workorder {
        serde_json::from_value(serde_json::json!({
            "number": "2026120700001", "kind": "fault_repair", "state": "dispatched",
            "fields": {}, "department": dept, "handler": handler, "created_by": "ivr",
            "created_ms": 0, "updated_ms": 0, "state_entered_ms": 0, "version": 1,
        }))
        .expect("an order")
    }

    fn names(r: &Reached) -> Vec<&str> {
        r.people.iter().map(|p| p.name.as_str()).collect()
    }

    fn directory() -> Directory {
        let users = [
            user("wang", Role::Supervisor, None, Some("wang@example.com")),
            user("li", Role::Handler, Some("network_ops"), None),
            user(
                "zhao",
                Role::Handler,
                Some("network_ops"),
                Some("zhao@example.com"),
            ),
            user("chen", Role::Agent, Some("billing"), None),
        ];
        let roles: BTreeMap<String, Vec<String>> = [(
            "dispatcher".to_string(),
            vec!["wang".to_string(), "ghost".to_string()],
        )]
        .into_iter()
        .collect();
        Directory::new(&users, &roles)
    }

    #[test]
    fn roles_departments_and_names_reach_their_users() {
        let d = directory();
        let o = order(Some("network_ops"), None);
        assert_eq!(names(&d.reach("supervisor", &o)), ["wang"]);
        assert_eq!(names(&d.reach("network_ops", &o)), ["li", "zhao"]);
        assert_eq!(names(&d.reach("chen", &o)), ["chen"]);
        let dispatcher = d.reach("dispatcher", &o);
        assert_eq!(names(&dispatcher), ["wang"]);
        assert_eq!(dispatcher.problems.len(), 1, "{dispatcher:?}");
        assert!(dispatcher.problems[0].contains("`ghost`"));
        let nobody = d.reach("auditor", &o);
        assert!(nobody.people.is_empty());
        assert!(nobody.problems[0].contains("`auditor`"), "{nobody:?}");
    }

    #[test]
    fn handler_is_the_orders_handler_else_its_departments_handlers() {
        let d = directory();
        assert_eq!(
            names(&d.reach("handler", &order(Some("network_ops"), Some("zhao")))),
            ["zhao"]
        );
        assert_eq!(
            names(&d.reach("handler", &order(Some("network_ops"), None))),
            ["li", "zhao"]
        );
        let stranger = d.reach("handler", &order(Some("network_ops"), Some("sun")));
        assert!(stranger.people.is_empty());
        assert!(stranger.problems[0].contains("`sun`"), "{stranger:?}");
        let alone = d.reach("handler", &order(None, None));
        assert!(alone.problems[0].contains("neither"), "{alone:?}");
    }
}
