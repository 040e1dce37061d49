//! The few fixed words a printed sheet or a table report carries, in Japanese and English.

use crate::Language;

pub(crate) struct Words {
    /// The stamp in the top right corner of every page.
    pub confidential: &'static str,
    /// The notes' heading.
    pub notes: &'static str,
    /// After the title on later pages, and after a label whose value goes on from the page before.
    pub continued: &'static str,
    /// The first page's handling notice, beside the print details.
    pub notice: &'static str,
    pub user: &'static str,
    pub time: &'static str,
    pub request: &'static str,
    pub client: &'static str,
    /// Before a table report's generation time in its footer.
    pub generated: &'static str,
}

impl Words {
    pub fn of(lang: Language) -> Words {
        match lang {
            Language::Ja => Words {
                confidential: "社外秘",
                notes: "備考",
                continued: "（続き）",
                notice: "本書は承認された印刷申請に基づき出力されました。複製・持ち出しを禁じます。\
                         不要になったときは速やかにシュレッダーで廃棄してください。",
                user: "出力者",
                time: "出力日時",
                request: "申請番号",
                client: "委託元",
                generated: "作成日時",
            },
            Language::En => Words {
                confidential: "CONFIDENTIAL",
                notes: "Notes",
                continued: " (continued)",
                notice: "Printed under an approved print request. Do not copy or take out. \
                         Shred it as soon as it is no longer needed.",
                user: "Printed by",
                time: "Printed at",
                request: "Request",
                client: "Client",
                generated: "Generated",
            },
        }
    }
}
