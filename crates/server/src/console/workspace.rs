//! The operator workspace (issue 4, item 4): the operator's active calls, a lookup by phone,
//! e-mail or name with birth date, customer cards masked by the field policy, reveal with a
//! reason, and notes. The security admin's field-policy page lives here too.
//!
//! Lookups are posted, never sent in a query string: the values and the reason would otherwise
//! end up in browser history and proxy logs.
//!
//! A reveal keeps the cards (issue 14, item 8; TW-5, TW-9): each card's reveal form carries the
//! lookup that showed it (hidden `lookup_*` fields, in the POST body only), and the answer runs
//! that lookup again — a read like any other, recorded as one — and shows the revealed value in
//! its place in the card. Nothing of it is kept between requests: no cookie, no URL, no server
//! memory.

use super::{Chrome, DoneQuery, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::CoreError;
use mamori_core::Principal;
use mamori_core::vault::{ALLOWANCE_SPENT, CustomerCard, Lookup, Purpose, REASON_CODES};
use mamori_domain::Permission::{CustomersManage, CustomersRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::customer::{CustomerField, FieldClass, Mask};
use mamori_domain::identity::OrgKind;
use mamori_domain::vault_policy::{FieldRule, VaultPolicy, reading_roles};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/workspace", Needs(CustomersRead), workspace_page)
        .add(Method::POST, "/workspace/lookup", Needs(CustomersRead), lookup)
        .add(Method::POST, "/workspace/reveal", Needs(CustomersRead), reveal)
        .add(Method::POST, "/workspace/notes", Needs(CustomersRead), add_note)
        .add(Method::POST, "/workspace/print-request", Needs(CustomersRead), request_print)
        .add(Method::POST, "/workspace/reveal-request", Needs(CustomersRead), request_reveal)
        .add(Method::POST, "/approvals/{id}/reveal", Needs(CustomersRead), approved_reveal)
        .add(Method::GET, "/admin/vault-policy", Needs(CustomersManage), policy_page)
        .add(Method::POST, "/admin/vault-policy", Needs(CustomersManage), save_policy)
}

pub struct CallView {
    pub call_id: String,
    /// The caller's number masked like a card's phone; none for calls reported before Mamori
    /// kept it (the call id is shown instead).
    pub caller: Option<String>,
    pub started: String,
}

pub struct FieldView {
    pub name: &'static str,
    pub label: String,
    pub value: String,
    pub mask: &'static str,
    /// The value is the one just revealed, in full.
    pub revealed: bool,
}

/// A value just revealed: shown in its card, in place of the masked one.
pub struct Revealed {
    pub customer_id: String,
    pub field: CustomerField,
    pub value: String,
}

pub struct CardView {
    pub id: String,
    pub client: String,
    pub title: String,
    pub fields: Vec<FieldView>,
    /// Fields shown in part, which a reveal can show in full.
    pub revealable: Vec<FieldView>,
}

/// What the lookup form holds, to show it again with the results; the cards' forms carry it
/// as `lookup_*` fields so that a reveal can show the same cards again.
#[derive(Default)]
pub struct LookupForm {
    /// The active call whose caller was looked up (the one-click lookup), else empty.
    pub call_id: String,
    pub by: String,
    pub value: String,
    pub birth_date: String,
    pub reason_code: String,
    pub reason_text: String,
}

impl LookupForm {
    /// The lookup's fields from a posted form, named with `prefix` (`""` on the lookup form,
    /// `"lookup_"` on a card's forms).
    fn from_form(form: &Form, prefix: &str) -> Self {
        let text = |name: &str| form.text(&format!("{prefix}{name}")).to_owned();
        LookupForm {
            call_id: text("call_id"),
            by: text("by"),
            value: text("value"),
            birth_date: text("birth_date"),
            reason_code: text("reason_code"),
            reason_text: text("reason_text"),
        }
    }

    fn is_empty(&self) -> bool {
        self.call_id.trim().is_empty() && self.value.trim().is_empty()
    }

    fn purpose(&self) -> Purpose {
        match self.reason_code.trim() {
            "" => Purpose::ActiveCall,
            code => Purpose::Reason { code: code.to_owned(), text: self.reason_text.clone() },
        }
    }

    /// Runs the lookup: the caller of an active call, or a customer by one key.
    async fn run(
        &self,
        state: &AppState,
        p: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<CustomerCard>, CoreError> {
        let value = Some(self.value.clone());
        let (phone, email, name, birth_date) = match self.by.as_str() {
            "email" => (None, value, None, None),
            "name_birth" => (None, None, value, Some(self.birth_date.clone())),
            _ => (value, None, None, None),
        };
        let lookup = match Some(self.call_id.trim()).filter(|c| !c.is_empty()) {
            Some(call_id) => Lookup::from_parts(Some(call_id.to_owned()), None, None, None, None, false)?,
            None => Lookup::from_parts(None, phone, email, name, birth_date, false)?,
        };
        state.core.vault.look_up(p, &lookup, &self.purpose(), ctx).await
    }
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    c: Chrome,
    calls: Vec<CallView>,
    form: LookupForm,
    reasons: Vec<(&'static str, String)>,
    /// None before a lookup; the cards found after one.
    cards: Option<Vec<CardView>>,
    /// A value revealed whose card could not be shown again (label, value).
    revealed: Option<(String, String)>,
    /// A reveal refused beyond the allowance, which may be asked of the supervisor instead.
    reveal_ask: Option<RevealAsk>,
    /// The approvals badge: one's requests waiting, one's grants to use.
    approvals: mamori_core::approvals::Badge,
    /// What keeps the person from looking customers up (the policy options), as links.
    needs: Vec<super::policies::NeedRow>,
}

/// A reveal the allowance refused, as the "ask the supervisor" form carries it.
pub struct RevealAsk {
    pub customer_id: String,
    pub field: String,
    pub field_label: String,
    pub reason_code: String,
    pub reason_text: String,
}

fn mask_key(m: Mask) -> &'static str {
    match m {
        Mask::Full => "full",
        Mask::Partial => "partial",
        Mask::Hidden => "hidden",
    }
}

pub(super) fn class_key(c: FieldClass) -> &'static str {
    match c {
        FieldClass::Confidential => "confidential",
        FieldClass::Internal => "internal",
        FieldClass::Public => "public",
    }
}

pub(super) fn field_label(tr: Tr, f: CustomerField) -> String {
    tr.t(&format!("customer_field.{}", f.as_str())).to_owned()
}

pub(super) async fn client_names(state: &AppState, p: &Principal) -> Vec<(String, String)> {
    state
        .core
        .identity
        .list_org(OrgKind::Client)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| p.client_ids.contains(&c.id))
        .map(|c| (c.id, c.name))
        .collect()
}

fn card_view(
    tr: Tr,
    card: CustomerCard,
    clients: &[(String, String)],
    revealed: Option<&Revealed>,
) -> CardView {
    let revealed = revealed.filter(|r| r.customer_id == card.id);
    let name_of = |f: CustomerField| {
        card.fields.iter().find(|x| x.field == f && x.mask != Mask::Hidden).map(|x| x.value.clone())
    };
    let title =
        name_of(CustomerField::NameKanji).or_else(|| name_of(CustomerField::NameKana)).unwrap_or_default();
    let fields: Vec<FieldView> = card
        .fields
        .iter()
        .map(|f| match revealed.filter(|r| r.field == f.field) {
            Some(r) => FieldView {
                name: f.field.as_str(),
                label: field_label(tr, f.field),
                value: shown_in_full(r.field, &r.value),
                mask: "revealed",
                revealed: true,
            },
            None => FieldView {
                name: f.field.as_str(),
                label: field_label(tr, f.field),
                value: f.value.clone(),
                mask: mask_key(f.mask),
                revealed: false,
            },
        })
        .collect();
    let revealable = card
        .fields
        .iter()
        .filter(|f| f.mask == Mask::Partial)
        .map(|f| FieldView {
            name: f.field.as_str(),
            label: field_label(tr, f.field),
            value: String::new(),
            mask: "",
            revealed: false,
        })
        .collect();
    CardView {
        client: clients
            .iter()
            .find(|(id, _)| *id == card.client_id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        id: card.id,
        title,
        fields,
        revealable,
    }
}

/// A revealed value as a person reads it: several phone numbers one after the other.
pub(super) fn shown_in_full(field: CustomerField, value: &str) -> String {
    match field {
        CustomerField::Phones => value.split(',').collect::<Vec<_>>().join(", "),
        _ => value.to_owned(),
    }
}

/// What a workspace page shows besides the lookup form.
#[derive(Default)]
struct Shown {
    /// None before a lookup.
    cards: Option<Vec<CustomerCard>>,
    error: Option<String>,
    revealed: Option<Revealed>,
    reveal_ask: Option<RevealAsk>,
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    p: &Principal,
    form: LookupForm,
    shown: Shown,
    done: Option<&str>,
) -> Response {
    let tr = tr_for(headers, Some(p));
    let calls = state
        .core
        .vault
        .my_active_calls(p)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| CallView { call_id: c.external_id, caller: c.caller, started: local_time(c.started_at.0) })
        .collect();
    let clients = client_names(state, p).await;
    let Shown { cards, error, revealed, reveal_ask } = shown;
    let cards: Option<Vec<CardView>> =
        cards.map(|cs| cs.into_iter().map(|c| card_view(tr, c, &clients, revealed.as_ref())).collect());
    // A revealed value whose card is not on the page is shown on its own.
    let in_a_card = cards.iter().flatten().any(|c| c.fields.iter().any(|f| f.revealed));
    let revealed =
        revealed.filter(|_| !in_a_card).map(|r| (field_label(tr, r.field), shown_in_full(r.field, &r.value)));
    let c = Chrome::new(tr, "workspace.title", Some(p), csrf_for(Some(p), None), "/workspace")
        .notice_key(done)
        .error(error);
    let reasons = REASON_CODES.iter().map(|r| (*r, tr.t(&format!("reason.{r}")).to_owned())).collect();
    let approvals = state.core.approvals.badge(p).await.unwrap_or_default();
    let needs = super::policies::lookup_needs(state, p).await;
    render(&WorkspacePage { c, calls, form, reasons, cards, revealed, reveal_ask, approvals, needs })
}

async fn workspace_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Query(q): Query<DoneQuery>,
) -> Response {
    page(&state, &headers, &p, LookupForm::default(), Shown::default(), q.done.as_deref()).await
}

fn purpose_of(form: &Form) -> Purpose {
    match form.optional("reason_code") {
        None => Purpose::ActiveCall,
        Some(code) => Purpose::Reason { code, text: form.text("reason_text").to_owned() },
    }
}

async fn lookup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    // The form names its key with `by`; the caller button sends only the call id.
    let asked = LookupForm::from_form(&form, "");
    let shown = match asked.run(&state, &p, &ctx).await {
        Ok(cards) => Shown { cards: Some(cards), ..Shown::default() },
        Err(e) => Shown { error: Some(error_text(tr, &e)), ..Shown::default() },
    };
    page(&state, &headers, &p, asked, shown, None).await
}

async fn reveal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (customer_id, field) = (form.text("customer_id"), form.text("field"));
    // The reveal first, recorded once; then the lookup that showed the card, again.
    let result = state.core.vault.reveal_field(&p, customer_id, field, &purpose_of(&form), &ctx).await;
    let mut reveal_ask = None;
    let (revealed, error) = match (result, CustomerField::parse(field)) {
        (Ok(value), Some(field)) => {
            (Some(Revealed { customer_id: customer_id.to_owned(), field, value }), None)
        }
        (Ok(_), None) => (None, None),
        (Err(e), parsed) => {
            // Beyond the allowance: the supervisor may approve this one reveal.
            if let (mamori_core::CoreError::Forbidden(ALLOWANCE_SPENT), Some(f)) = (&e, parsed) {
                reveal_ask = Some(RevealAsk {
                    customer_id: customer_id.to_owned(),
                    field: f.as_str().to_owned(),
                    field_label: field_label(tr, f),
                    reason_code: form.text("reason_code").to_owned(),
                    reason_text: form.text("reason_text").to_owned(),
                });
            }
            (None, Some(error_text(tr, &e)))
        }
    };
    let lookup = LookupForm::from_form(&form, "lookup_");
    let cards = match lookup.is_empty() {
        true => Ok(None),
        false => lookup.run(&state, &p, &ctx).await.map(Some),
    };
    let shown = match cards {
        Ok(cards) => Shown { cards, error, revealed, reveal_ask },
        // The card cannot be shown again (the call has ended, say): the value on its own.
        Err(e) => Shown { cards: None, error: error.or(Some(error_text(tr, &e))), revealed, reveal_ask },
    };
    page(&state, &headers, &p, lookup, shown, None).await
}

async fn add_note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.vault.add_customer_note(&p, form.text("customer_id"), form.text("text"), &ctx).await {
        Ok(()) => Redirect::to("/workspace?done=note_added").into_response(),
        Err(e) => {
            let shown = Shown { error: Some(error_text(tr, &e)), ..Shown::default() };
            page(&state, &headers, &p, LookupForm::default(), shown, None).await
        }
    }
}

pub struct RuleView {
    pub field: &'static str,
    pub label: String,
    pub class: &'static str,
    /// (role, its label, its mask)
    pub masks: Vec<(&'static str, String, &'static str)>,
}

#[derive(Template)]
#[template(path = "vault_policy.html")]
struct PolicyPage {
    c: Chrome,
    rules: Vec<RuleView>,
    classes: [&'static str; 3],
    masks: [&'static str; 3],
}

async fn policy_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let policy = match state.core.vault.vault_policy(&p, &ctx).await {
        Ok(policy) => policy,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    policy_view(tr, &p, &policy, q.done.as_deref(), None)
}

fn policy_view(
    tr: Tr,
    p: &Principal,
    policy: &VaultPolicy,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let rules = policy
        .fields
        .iter()
        .map(|r| RuleView {
            field: r.field.as_str(),
            label: field_label(tr, r.field),
            class: class_key(r.class),
            masks: r
                .masks
                .iter()
                .map(|(role, m)| {
                    (role.as_str(), tr.t(&format!("role.{}", role.as_str())).to_owned(), mask_key(*m))
                })
                .collect(),
        })
        .collect();
    let c = Chrome::new(tr, "vault.title", Some(p), csrf_for(Some(p), None), "/admin/vault-policy")
        .notice_key(done)
        .error(error);
    render(&PolicyPage {
        c,
        rules,
        classes: ["confidential", "internal", "public"],
        masks: ["full", "partial", "hidden"],
    })
}

/// The policy as the form posts it: `class.<field>` and `mask.<field>.<role>` for every field
/// and reading role. Anything missing or unknown is refused, as over the API.
fn policy_from_form(form: &Form) -> Result<VaultPolicy, String> {
    let mut fields = Vec::new();
    fn choice<T: serde::de::DeserializeOwned>(form: &Form, name: &str) -> Result<T, String> {
        let v = form.text(name);
        serde_json::from_value(serde_json::Value::String(v.to_owned()))
            .map_err(|_| format!("`{name}`: `{v}` is not one of the choices"))
    }
    for field in CustomerField::ALL {
        let class: FieldClass = choice(form, &format!("class.{}", field.as_str()))?;
        let mut masks = std::collections::BTreeMap::new();
        for role in reading_roles() {
            let mask: Mask = choice(form, &format!("mask.{}.{}", field.as_str(), role.as_str()))?;
            masks.insert(role, mask);
        }
        fields.push(FieldRule { field, class, masks });
    }
    VaultPolicy { fields }.checked().map_err(|e| e.to_string())
}

async fn save_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let current = state.core.vault.vault_policy(&p, &ctx).await.map(|p| (*p).clone()).unwrap_or_default();
    let policy = match policy_from_form(&form) {
        Ok(policy) => policy,
        Err(e) => {
            return policy_view(tr, &p, &current, None, Some(format!("{}: {e}", tr.t("vault.refused"))));
        }
    };
    match state.core.vault.set_vault_policy(&p, policy, &ctx).await {
        Ok(()) => Redirect::to("/admin/vault-policy?done=policy_saved").into_response(),
        Err(e) => policy_view(tr, &p, &current, None, Some(error_text(tr, &e))),
    }
}

/// Asks a supervisor to approve printing this customer's sheet (issue 15, item 2); the sheet is
/// downloaded from the approvals page once approved.
async fn request_print(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.request_print(&p, form.text("customer_id"), form.text("reason"), &ctx).await {
        Ok(_) => Redirect::to("/approvals?done=print_requested").into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

/// Asks the supervisor to approve a reveal the allowance refused (issue 15, item 6).
async fn request_reveal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (customer_id, field) = (form.text("customer_id"), form.text("field"));
    match state.core.request_reveal(&p, customer_id, field, &purpose_of(&form), &ctx).await {
        Ok(_) => Redirect::to("/approvals?done=reveal_requested").into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

/// The approved reveal, once: the value on the workspace page (not kept by caches).
async fn approved_reveal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.reveal_approved(&p, &id, &ctx).await {
        Ok(shown) => {
            let revealed =
                Revealed { customer_id: shown.customer_id, field: shown.field, value: shown.value };
            let shown = Shown { revealed: Some(revealed), ..Shown::default() };
            let page = page(&state, &headers, &p, LookupForm::default(), shown, None).await;
            ([(axum::http::header::CACHE_CONTROL, "no-store")], page).into_response()
        }
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}
