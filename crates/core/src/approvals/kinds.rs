//! A request through the generic route (`POST /api/v1/approvals`) goes to its kind's own
//! checks, so a request made there is held to the same rules as one made from the kind's page:
//! a print only of a customer one may read, an export only of one's client company and of
//! fields one's role sees, a take-out only of one's own PC (or one in one's people scope) until a
//! date within the policy. Kinds the system raises itself — a held mail, a reveal beyond the
//! allowance, a privileged action — are not asked for directly.

use super::{Approval, NewRequest};
use crate::export::ExportSpec;
use crate::take_out::{TakeOutItem, TakeOutRequest};
use crate::{Core, CoreError, Principal};
use mamori_audit::RequestContext;
use mamori_domain::approval::ApprovalKind;
use mamori_domain::customer::CustomerField;
use mamori_proto::ErrorCode;

fn bad_content(message: &str) -> CoreError {
    CoreError::invalid("content", ErrorCode::InvalidValue, message.to_owned())
}

/// Only these keys, each a string (or, for `fields`, a list of strings).
fn only_keys(content: &serde_json::Value, keys: &[&str]) -> Result<(), CoreError> {
    let object = content.as_object().ok_or_else(|| bad_content("the request's content is a JSON object"))?;
    match object.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(bad_content(&format!("`{k}` is not part of this kind of request"))),
        None => Ok(()),
    }
}

impl Core {
    /// Makes a request of any kind that is asked for directly, through that kind's checks.
    pub async fn request_approval(
        &self,
        principal: &Principal,
        new: &NewRequest,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        let text = |key: &str| new.content.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
        match new.kind {
            ApprovalKind::Print => {
                only_keys(&new.content, &["document", "customer"])?;
                if text("document").is_some_and(|d| d != "customer_sheet") {
                    return Err(bad_content("a print is of a `customer_sheet`"));
                }
                let customer = text("customer").ok_or_else(|| bad_content("say which `customer`"))?;
                self.request_print(principal, &customer, &new.reason, ctx).await
            }
            ApprovalKind::Export => {
                only_keys(&new.content, &["client", "fields", "registered_from", "registered_to"])?;
                let fields = new
                    .content
                    .get("fields")
                    .and_then(serde_json::Value::as_array)
                    .ok_or_else(|| bad_content("say which `fields`"))?
                    .iter()
                    .map(|f| f.as_str().and_then(CustomerField::parse))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad_content("`fields` are customer field names"))?;
                let spec = ExportSpec {
                    client_id: text("client").ok_or_else(|| bad_content("say which `client`"))?,
                    fields,
                    registered_from: text("registered_from"),
                    registered_to: text("registered_to"),
                };
                self.request_export(principal, &spec, &new.reason, ctx).await
            }
            ApprovalKind::TakeOut => {
                only_keys(&new.content, &["item", "device", "usb_serial", "paper", "until"])?;
                let item = match (text("item").as_deref(), text("device"), text("usb_serial"), text("paper"))
                {
                    (Some("device"), Some(id), None, None) => TakeOutItem::Device(id),
                    (Some("usb"), None, Some(serial), None) => TakeOutItem::Usb(serial),
                    (Some("paper"), None, None, Some(paper)) => TakeOutItem::Paper(paper),
                    _ => {
                        return Err(bad_content(
                            "say the `item` (device, usb or paper) and only its `device`, `usb_serial` or `paper`",
                        ));
                    }
                };
                let until = text("until").ok_or_else(|| bad_content("say `until` when it comes back"))?;
                let asked = TakeOutRequest { item, until, reason: new.reason.clone() };
                self.request_take_out(principal, &asked, ctx).await
            }
            ApprovalKind::Mail | ApprovalKind::Reveal | ApprovalKind::Privileged => Err(CoreError::invalid(
                "kind",
                ErrorCode::InvalidValue,
                "requests of this kind are raised by the action itself (sending the mail, the reveal, the privileged action)",
            )),
        }
    }
}
