//! Customer-data rules the vault (issue 4) applies: normalising values for exact-match blind
//! indexes, card numbers and the refusal of security codes (PCI DSS 3.3.1), and masking (PCI DSS
//! 3.4.1, least privilege).

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("not a phone number: give 10 or 11 digits starting with 0 (Japan), or +country and number")]
    Phone,
    #[error("not an e-mail address")]
    Email,
    #[error("the name is empty")]
    Name,
    #[error("not a card number: 12 to 19 digits whose check digit (Luhn) is right")]
    CardNumber,
    #[error(
        "card security codes (CVV/CVC) are never stored (PCI DSS 3.3.1): remove the `{0}` field and do not collect it"
    )]
    SecurityCode(String),
}

/// Width-folded text: full-width digits and Latin letters become ASCII (NFKC).
fn fold(s: &str) -> String {
    s.nfkc().collect()
}

/// A phone number in E.164 (`+81312345678`). Japanese numbers may be given domestically
/// (`03-1234-5678`, `０９０（１２３４）５６７８`); separators and widths do not matter.
pub fn normalize_phone(input: &str) -> Result<String, ValueError> {
    let folded = fold(input);
    let mut digits = String::new();
    let mut plus = false;
    for (i, c) in folded.trim().chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '(' | ')' | '.' | '\u{2010}'..='\u{2015}' | '\u{2212}' | 'ー' => {}
            _ => return Err(ValueError::Phone),
        }
    }
    let e164 = if plus {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("0081") {
        format!("+81{}", rest.strip_prefix('0').unwrap_or(rest))
    } else if let Some(rest) = digits.strip_prefix('0').filter(|_| matches!(digits.len(), 10 | 11)) {
        format!("+81{rest}")
    } else {
        return Err(ValueError::Phone);
    };
    let n = e164.len() - 1;
    if !(8..=15).contains(&n) || e164[1..].starts_with('0') {
        return Err(ValueError::Phone);
    }
    Ok(e164)
}

/// An e-mail address, trimmed and lower-cased.
pub fn normalize_email(input: &str) -> Result<String, ValueError> {
    let e = fold(input).trim().to_lowercase();
    let (local, domain) = e.split_once('@').ok_or(ValueError::Email)?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && e.len() <= 254;
    if ok { Ok(e) } else { Err(ValueError::Email) }
}

/// A name for matching: width-folded, without spaces, lower-case, hiragana as katakana — so
/// `山田　太郎`, `山田太郎`, `やまだ たろう` and `ヤマダ タロウ` each match their own kind.
pub fn normalize_name(input: &str) -> Result<String, ValueError> {
    let n: String = fold(input)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    if n.is_empty() { Err(ValueError::Name) } else { Ok(n) }
}

/// A card number's digits, checked with the Luhn algorithm.
pub fn normalize_card_number(input: &str) -> Result<String, ValueError> {
    let digits: String = fold(input).chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(ValueError::CardNumber);
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    if sum.is_multiple_of(10) { Ok(digits) } else { Err(ValueError::CardNumber) }
}

/// Refuses an input field that would carry a card security code, whatever it is called.
pub fn refuse_security_code(field_name: &str) -> Result<(), ValueError> {
    let n: String = fold(field_name).to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
    const NAMES: [&str; 9] = [
        "cvv",
        "cvv2",
        "cvc",
        "cvc2",
        "cid",
        "csc",
        "securitycode",
        "cardsecuritycode",
        "セキュリティコード",
    ];
    if NAMES.contains(&n.as_str()) { Err(ValueError::SecurityCode(field_name.to_owned())) } else { Ok(()) }
}

/// What a role sees of a field.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Mask {
    Full,
    Partial,
    Hidden,
}

/// The kinds of value masking knows how to shorten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Name,
    Phone,
    Email,
    Address,
    BirthDate,
    CardNumber,
    Text,
}

const HIDDEN: &str = "••••";

/// The value as `mask` lets it be seen. Partial keeps: the card's last four digits (PCI DSS
/// 3.4.1), a phone's last four, an e-mail's first letter and domain, a name's first character,
/// an address's first six characters (the prefecture), a birth date's year.
pub fn mask(kind: ValueKind, value: &str, mask: Mask) -> String {
    match mask {
        Mask::Full => value.to_owned(),
        Mask::Hidden => HIDDEN.to_owned(),
        Mask::Partial => {
            let chars: Vec<char> = value.chars().collect();
            let keep_end = |n: usize| chars[chars.len().saturating_sub(n)..].iter().collect::<String>();
            match kind {
                ValueKind::CardNumber => {
                    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
                    format!(
                        "**** **** **** {}",
                        digits[digits.len().saturating_sub(4)..].iter().collect::<String>()
                    )
                }
                ValueKind::Phone => format!("***-****-{}", keep_end(4)),
                ValueKind::Email => match value.split_once('@') {
                    Some((local, domain)) => {
                        format!("{}***@{domain}", local.chars().next().map(String::from).unwrap_or_default())
                    }
                    None => HIDDEN.to_owned(),
                },
                ValueKind::Name => format!("{}**", chars.first().map(|c| c.to_string()).unwrap_or_default()),
                ValueKind::Address => format!("{}…", chars.iter().take(6).collect::<String>()),
                ValueKind::BirthDate => format!("{}-**-**", chars.iter().take(4).collect::<String>()),
                ValueKind::Text => HIDDEN.to_owned(),
            }
        }
    }
}

/// How sensitive a field is [機密・業務・公開]; the security admin may reclassify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldClass {
    Confidential,
    Internal,
    Public,
}

/// The fields of a customer record. There is deliberately no field for a card security code.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CustomerField {
    NameKanji,
    NameKana,
    Phones,
    Email,
    PostalAddress,
    BirthDate,
    Gender,
    Contracts,
    Purchases,
    Notes,
    CardNumber,
}

impl CustomerField {
    pub const ALL: [CustomerField; 11] = [
        CustomerField::NameKanji,
        CustomerField::NameKana,
        CustomerField::Phones,
        CustomerField::Email,
        CustomerField::PostalAddress,
        CustomerField::BirthDate,
        CustomerField::Gender,
        CustomerField::Contracts,
        CustomerField::Purchases,
        CustomerField::Notes,
        CustomerField::CardNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CustomerField::NameKanji => "name_kanji",
            CustomerField::NameKana => "name_kana",
            CustomerField::Phones => "phones",
            CustomerField::Email => "email",
            CustomerField::PostalAddress => "postal_address",
            CustomerField::BirthDate => "birth_date",
            CustomerField::Gender => "gender",
            CustomerField::Contracts => "contracts",
            CustomerField::Purchases => "purchases",
            CustomerField::Notes => "notes",
            CustomerField::CardNumber => "card_number",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn kind(self) -> ValueKind {
        match self {
            CustomerField::NameKanji | CustomerField::NameKana => ValueKind::Name,
            CustomerField::Phones => ValueKind::Phone,
            CustomerField::Email => ValueKind::Email,
            CustomerField::PostalAddress => ValueKind::Address,
            CustomerField::BirthDate => ValueKind::BirthDate,
            CustomerField::CardNumber => ValueKind::CardNumber,
            CustomerField::Gender
            | CustomerField::Contracts
            | CustomerField::Purchases
            | CustomerField::Notes => ValueKind::Text,
        }
    }

    /// The class a field has until the security admin changes it. Everything that identifies
    /// or could harm the customer is confidential (encrypted); contract and purchase history
    /// is internal business data; nothing is public by default.
    pub fn default_class(self) -> FieldClass {
        match self {
            CustomerField::Gender | CustomerField::Contracts | CustomerField::Purchases => {
                FieldClass::Internal
            }
            _ => FieldClass::Confidential,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names() {
        for f in CustomerField::ALL {
            assert_eq!(CustomerField::parse(f.as_str()), Some(f));
        }
    }

    #[test]
    fn phones() {
        for ok in [
            "03-1234-5678",
            "０３（１２３４）５６７８",
            "090 1234 5678",
            "+81 90-1234-5678",
            "0081-90-1234-5678",
        ] {
            let n = normalize_phone(ok).unwrap_or_default();
            assert!(n == "+81312345678" || n == "+819012345678", "{ok} → {n}");
        }
        assert_eq!(normalize_phone("+1 (415) 555-0100"), Ok("+14155550100".into()));
        for bad in ["", "12345", "03-1234-567a", "++81312345678", "0312345678901234", "+0123456789"] {
            assert_eq!(normalize_phone(bad), Err(ValueError::Phone), "{bad}");
        }
    }

    #[test]
    fn emails_and_names() {
        assert_eq!(normalize_email("  Taro.Yamada@Example.CO.JP "), Ok("taro.yamada@example.co.jp".into()));
        assert_eq!(normalize_email("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"), Ok("taro@example.jp".into()));
        for bad in ["", "taro", "@example.jp", "taro@", "taro@example", "ta ro@example.jp", "a@b@c.jp"] {
            assert_eq!(normalize_email(bad), Err(ValueError::Email), "{bad}");
        }
        assert_eq!(normalize_name("山田　太郎"), normalize_name("山田太郎"));
        assert_eq!(normalize_name("やまだ たろう"), normalize_name("ヤマダ タロウ"));
        assert_eq!(normalize_name("ﾔﾏﾀﾞ ﾀﾛｳ"), normalize_name("ヤマダタロウ"), "half-width kana fold");
        assert_eq!(normalize_name("   "), Err(ValueError::Name));
    }

    #[test]
    fn cards_and_security_codes() {
        assert_eq!(normalize_card_number("4111 1111 1111 1111"), Ok("4111111111111111".into()));
        assert_eq!(normalize_card_number("4111-1111-1111-1112"), Err(ValueError::CardNumber));
        assert_eq!(normalize_card_number("1234"), Err(ValueError::CardNumber));
        for name in ["cvv", "CVC2", "security_code", "Security Code", "ＣＶＶ", "セキュリティコード"]
        {
            assert!(refuse_security_code(name).is_err(), "{name}");
        }
        assert!(refuse_security_code("card_number").is_ok());
    }

    #[test]
    fn masking() {
        assert_eq!(mask(ValueKind::CardNumber, "4111111111111111", Mask::Partial), "**** **** **** 1111");
        assert_eq!(mask(ValueKind::Phone, "+819012345678", Mask::Partial), "***-****-5678");
        assert_eq!(mask(ValueKind::Email, "taro@example.jp", Mask::Partial), "t***@example.jp");
        assert_eq!(mask(ValueKind::Name, "山田太郎", Mask::Partial), "山**");
        assert_eq!(mask(ValueKind::Address, "東京都千代田区丸の内1-1-1", Mask::Partial), "東京都千代田…");
        assert_eq!(mask(ValueKind::BirthDate, "1980-04-01", Mask::Partial), "1980-**-**");
        assert_eq!(mask(ValueKind::Text, "苦情の詳細", Mask::Partial), "••••");
        assert_eq!(mask(ValueKind::Phone, "+819012345678", Mask::Hidden), "••••");
        assert_eq!(mask(ValueKind::Phone, "+819012345678", Mask::Full), "+819012345678");
    }
}
