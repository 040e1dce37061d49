//! The vault's field policy (issue 4): each customer field's class [機密・業務・公開] and what each
//! role that reads customers sees of it (full, partial, hidden). The security admin sets it; the
//! defaults follow PCI DSS 3.4.1 (a card shows its last four digits) and least privilege.

use crate::Role;
use crate::authz::Permission;
use crate::customer::{CustomerField, FieldClass, Mask};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One field's class and what each reading role sees of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldRule {
    pub field: CustomerField,
    pub class: FieldClass,
    /// Role → what it sees. Every role that reads customers is named.
    #[schema(value_type = BTreeMap<String, Mask>)]
    pub masks: BTreeMap<Role, Mask>,
}

/// The whole policy: one rule per field, in [`CustomerField::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VaultPolicy {
    pub fields: Vec<FieldRule>,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("`{0}` has no rule: the policy names every field once")]
    MissingField(&'static str),
    #[error("`{0}` has more than one rule")]
    DuplicateField(&'static str),
    #[error("`{field}` does not say what the {role} role sees")]
    MissingRole { field: &'static str, role: &'static str },
    #[error("the {0} role does not read customers: leave it out of the masks")]
    RoleDoesNotRead(&'static str),
    #[error(
        "a card number is never shown in full by standing policy (PCI DSS 3.4.1): use partial and let users reveal it with a reason"
    )]
    CardInFull,
}

/// The roles whose holders read customer records, and so have a mask for every field.
pub fn reading_roles() -> impl Iterator<Item = Role> {
    Role::ALL.into_iter().filter(|r| r.permissions().contains(&Permission::CustomersRead))
}

/// What a reading role sees of a field unless the security admin changes it: what a call needs
/// — names, gender, history and notes in full, contact data, birth date and card in part.
fn default_mask(role: Role, field: CustomerField) -> Mask {
    debug_assert!(reading_roles().any(|r| r == role));
    match field {
        CustomerField::NameKanji
        | CustomerField::NameKana
        | CustomerField::Gender
        | CustomerField::Contracts
        | CustomerField::Purchases
        | CustomerField::Notes => Mask::Full,
        CustomerField::Phones
        | CustomerField::Email
        | CustomerField::PostalAddress
        | CustomerField::BirthDate
        | CustomerField::CardNumber => Mask::Partial,
    }
}

impl Default for VaultPolicy {
    fn default() -> Self {
        VaultPolicy {
            fields: CustomerField::ALL
                .into_iter()
                .map(|field| FieldRule {
                    field,
                    class: field.default_class(),
                    masks: reading_roles().map(|r| (r, default_mask(r, field))).collect(),
                })
                .collect(),
        }
    }
}

impl VaultPolicy {
    /// The policy, checked and put in field order; refused whole if any rule is wrong.
    pub fn checked(mut self) -> Result<VaultPolicy, PolicyError> {
        for (n, rule) in self.fields.iter().enumerate() {
            if self.fields[..n].iter().any(|r| r.field == rule.field) {
                return Err(PolicyError::DuplicateField(rule.field.as_str()));
            }
            for role in rule.masks.keys() {
                if !reading_roles().any(|r| r == *role) {
                    return Err(PolicyError::RoleDoesNotRead(role.as_str()));
                }
            }
            for role in reading_roles() {
                if !rule.masks.contains_key(&role) {
                    return Err(PolicyError::MissingRole { field: rule.field.as_str(), role: role.as_str() });
                }
            }
            if rule.field == CustomerField::CardNumber && rule.masks.values().any(|m| *m == Mask::Full) {
                return Err(PolicyError::CardInFull);
            }
        }
        for field in CustomerField::ALL {
            if !self.fields.iter().any(|r| r.field == field) {
                return Err(PolicyError::MissingField(field.as_str()));
            }
        }
        self.fields.sort_by_key(|r| r.field);
        Ok(self)
    }

    fn rule(&self, field: CustomerField) -> Option<&FieldRule> {
        self.fields.iter().find(|r| r.field == field)
    }

    /// What a user with these roles sees of a field: the most any of their reading roles allows;
    /// hidden for a user with none.
    pub fn mask(&self, roles: &[Role], field: CustomerField) -> Mask {
        let Some(rule) = self.rule(field) else { return Mask::Hidden };
        roles.iter().filter_map(|r| rule.masks.get(r)).min().copied().unwrap_or(Mask::Hidden)
    }

    pub fn class(&self, field: CustomerField) -> FieldClass {
        self.rule(field).map_or(FieldClass::Confidential, |r| r.class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let p = VaultPolicy::default().checked();
        assert!(p.is_ok(), "{p:?}");
        let p = VaultPolicy::default();
        assert_eq!(p.mask(&[Role::Operator], CustomerField::CardNumber), Mask::Partial, "PCI DSS 3.4.1");
        assert_eq!(p.mask(&[Role::Supervisor], CustomerField::CardNumber), Mask::Partial);
        assert_eq!(p.mask(&[Role::Operator], CustomerField::NameKanji), Mask::Full);
        assert_eq!(p.mask(&[Role::SecurityAdmin], CustomerField::NameKanji), Mask::Hidden);
        assert_eq!(p.mask(&[Role::Auditor, Role::Operator], CustomerField::Phones), Mask::Partial);
        assert_eq!(p.mask(&[], CustomerField::Notes), Mask::Hidden);
        assert_eq!(p.class(CustomerField::CardNumber), FieldClass::Confidential);
        assert_eq!(p.class(CustomerField::Purchases), FieldClass::Internal);
    }

    #[test]
    fn refusals() {
        let with = |f: &dyn Fn(&mut VaultPolicy)| {
            let mut p = VaultPolicy::default();
            f(&mut p);
            p.checked().err()
        };
        let card = |p: &mut VaultPolicy| {
            p.fields
                .iter_mut()
                .find(|r| r.field == CustomerField::CardNumber)
                .map(|r| r.masks.insert(Role::Supervisor, Mask::Full));
        };
        assert_eq!(with(&card), Some(PolicyError::CardInFull));
        assert_eq!(
            with(&|p| {
                p.fields.pop();
            }),
            Some(PolicyError::MissingField("card_number"))
        );
        assert_eq!(
            with(&|p| {
                let first = p.fields[0].clone();
                p.fields.push(first);
            }),
            Some(PolicyError::DuplicateField("name_kanji"))
        );
        assert_eq!(
            with(&|p| {
                p.fields[0].masks.remove(&Role::Operator);
            }),
            Some(PolicyError::MissingRole { field: "name_kanji", role: "operator" })
        );
        assert_eq!(
            with(&|p| {
                p.fields[0].masks.insert(Role::Auditor, Mask::Full);
            }),
            Some(PolicyError::RoleDoesNotRead("auditor"))
        );
        // A supervisor may be allowed more than an operator, and the most permissive role wins.
        let mut p = VaultPolicy::default();
        p.fields[2].masks.insert(Role::Supervisor, Mask::Full);
        let p = p.checked().unwrap_or_default();
        assert_eq!(p.mask(&[Role::Operator, Role::Supervisor], CustomerField::Phones), Mask::Full);
        assert_eq!(p.mask(&[Role::Operator], CustomerField::Phones), Mask::Partial);
    }
}
