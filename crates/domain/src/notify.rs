//! Who is told what by e-mail (issue 16, item 6): alerts from a severity to the security team's
//! list and to the supervisors of the person an alert is about; incidents to the security team;
//! and, per client company, further addresses told of alerts about the people who work on its
//! customers (a BPO's account manager for that client, say). The webhook and the SIEM carry
//! everything regardless; this decides only the mail.

use crate::Role;
use crate::detect::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many extra addresses one client company's route may name.
pub const MAX_CLIENT_ADDRESSES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailRouting {
    /// Alerts of this severity or above go to the security team's list (`notify.mail_to`);
    /// `null`: none.
    pub security_team_from: Option<Severity>,
    /// Alerts about a person, of this severity or above, go to the supervisors of their team
    /// who have a mail address; `null`: none.
    pub supervisors_from: Option<Severity>,
    /// Incidents opened, and the breach-report reminders, go to the security team's list.
    pub incidents_to_security_team: bool,
    /// Client company id → addresses told of alerts about people assigned to that client.
    #[serde(default)]
    pub clients: BTreeMap<String, ClientRoute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRoute {
    /// From this severity.
    pub from: Severity,
    pub addresses: Vec<String>,
}

impl Default for MailRouting {
    fn default() -> Self {
        MailRouting {
            security_team_from: Some(Severity::High),
            supervisors_from: Some(Severity::Medium),
            incidents_to_security_team: true,
            clients: BTreeMap::new(),
        }
    }
}

/// Why a routing cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("`{0}` is not a mail address (like sato@example.co.jp)")]
    Address(String),
    #[error("a client company's route names 1 to {MAX_CLIENT_ADDRESSES} addresses")]
    Addresses,
}

impl MailRouting {
    /// The routing with its addresses checked and lower-cased, sorted, without repeats.
    pub fn checked(mut self) -> Result<Self, RoutingError> {
        for route in self.clients.values_mut() {
            let mut out = Vec::with_capacity(route.addresses.len());
            for a in &route.addresses {
                let Some(a) = crate::identity::normalize_mail_address(a) else {
                    return Err(RoutingError::Address(a.chars().take(80).collect()));
                };
                out.push(a);
            }
            out.sort();
            out.dedup();
            if out.is_empty() || out.len() > MAX_CLIENT_ADDRESSES {
                return Err(RoutingError::Addresses);
            }
            route.addresses = out;
        }
        Ok(self)
    }

    /// Whether an alert of `severity` goes to the security team's list.
    pub fn to_security_team(&self, severity: Severity) -> bool {
        self.security_team_from.is_some_and(|from| severity >= from)
    }

    /// The addresses of people an alert of `severity` about `about` goes to: their team's
    /// supervisors with an address (not the person themself), and the routes of the client
    /// companies they work on.
    pub fn alert_people(
        &self,
        severity: Severity,
        about: Option<&Subject<'_>>,
        people: &[Person<'_>],
    ) -> Vec<String> {
        let Some(about) = about else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        if self.supervisors_from.is_some_and(|from| severity >= from)
            && let Some(team) = about.team_id
        {
            out.extend(
                people
                    .iter()
                    .filter(|p| {
                        p.active
                            && p.id != about.id
                            && p.team_id == Some(team)
                            && p.roles.contains(&Role::Supervisor)
                    })
                    .filter_map(|p| p.mail_address.map(str::to_owned)),
            );
        }
        for client in about.client_ids {
            if let Some(route) = self.clients.get(client.as_str())
                && severity >= route.from
            {
                out.extend(route.addresses.iter().cloned());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The person an alert is about.
pub struct Subject<'a> {
    pub id: &'a str,
    pub team_id: Option<&'a str>,
    pub client_ids: &'a [String],
}

/// A person who might be told.
pub struct Person<'a> {
    pub id: &'a str,
    pub roles: &'a [Role],
    pub team_id: Option<&'a str>,
    pub active: bool,
    pub mail_address: Option<&'a str>,
}

/// A severity in words, Japanese and English.
pub fn severity_words(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::High => ("高", "high"),
        Severity::Medium => ("中", "medium"),
        Severity::Low => ("低", "low"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person<'a>(
        id: &'a str,
        roles: &'a [Role],
        team: Option<&'a str>,
        mail: Option<&'a str>,
    ) -> Person<'a> {
        Person { id, roles, team_id: team, active: true, mail_address: mail }
    }

    #[test]
    fn an_alert_reaches_the_team_supervisors_and_the_client_route() {
        let sv = [Role::Supervisor];
        let op = [Role::Operator];
        let people = [
            person("sv-a", &sv, Some("a"), Some("sv-a@center.example.jp")),
            person("sv-b", &sv, Some("b"), Some("sv-b@center.example.jp")),
            person("sv-a2", &sv, Some("a"), None),
            person("op-a", &op, Some("a"), Some("op-a@center.example.jp")),
            Person { active: false, ..person("sv-old", &sv, Some("a"), Some("old@center.example.jp")) },
        ];
        let clients = ["c1".to_owned()];
        let about = Subject { id: "op-a", team_id: Some("a"), client_ids: &clients };
        let mut routing = MailRouting::default();
        routing.clients.insert(
            "c1".into(),
            ClientRoute { from: Severity::High, addresses: vec!["Account@Client.example.jp".into()] },
        );
        let routing = routing.checked().unwrap();
        assert_eq!(routing.alert_people(Severity::Low, Some(&about), &people), Vec::<String>::new());
        assert_eq!(routing.alert_people(Severity::Medium, Some(&about), &people), ["sv-a@center.example.jp"]);
        assert_eq!(
            routing.alert_people(Severity::High, Some(&about), &people),
            ["account@client.example.jp", "sv-a@center.example.jp"]
        );
        assert!(routing.alert_people(Severity::High, None, &people).is_empty(), "an address is no one's");
        assert!(routing.to_security_team(Severity::High) && !routing.to_security_team(Severity::Medium));
    }

    #[test]
    fn routes_are_checked() {
        let mut bad = MailRouting::default();
        bad.clients.insert("c1".into(), ClientRoute { from: Severity::Low, addresses: vec!["nope".into()] });
        assert_eq!(bad.checked(), Err(RoutingError::Address("nope".into())));
        let mut empty = MailRouting::default();
        empty.clients.insert("c1".into(), ClientRoute { from: Severity::Low, addresses: vec![] });
        assert_eq!(empty.checked(), Err(RoutingError::Addresses));
    }
}
