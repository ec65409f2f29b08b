//! The portal's words in Malay and English. Each language is one file in
//! `locales/` (`key = text`, Fluent's simple form, `{ $name }` for values),
//! compiled into the binary. A test checks both files have the same keys and
//! that every key the code and templates use exists; a key that is missing
//! anyway shows as `⟦key⟧`, which the browser tests look for on every page.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::auth::users::Language;

static MS: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| parse(include_str!("../../locales/ms.ftl")));
static EN: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| parse(include_str!("../../locales/en.ftl")));

/// `key = text` lines; `#` starts a comment line.
fn parse(source: &'static str) -> HashMap<&'static str, &'static str> {
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, text)| (key.trim(), text.trim()))
        .collect()
}

/// The words of one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    /// Which language.
    pub language: Language,
}

impl Words {
    /// Words in `language`.
    #[must_use]
    pub fn new(language: Language) -> Self {
        Self { language }
    }

    /// The `lang` attribute value.
    #[must_use]
    pub fn lang(&self) -> &'static str {
        self.language.as_str()
    }

    /// The text of `key`, or `⟦key⟧` when it is missing.
    #[must_use]
    pub fn t(&self, key: &str) -> String {
        let catalog = match self.language {
            Language::Ms => &*MS,
            Language::En => &*EN,
        };
        catalog.get(key).map_or_else(|| format!("⟦{key}⟧"), |text| (*text).to_owned())
    }

    /// The text of `key` with `{ $name }` replaced by each value.
    #[must_use]
    pub fn f<'a>(&self, key: &str, values: impl AsRef<[(&'a str, &'a str)]>) -> String {
        let mut text = self.t(key);
        for (name, value) in values.as_ref() {
            text = text.replace(&format!("{{ ${name} }}"), value);
        }
        text
    }

    /// The name of a request status.
    #[must_use]
    pub fn status(&self, status: &str) -> String {
        self.t(&format!("status-{status}"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(map: &HashMap<&'static str, &'static str>) -> BTreeSet<&'static str> {
        map.keys().copied().collect()
    }

    #[test]
    fn both_languages_have_exactly_the_same_keys() {
        let (ms, en) = (keys(&MS), keys(&EN));
        assert_eq!(ms.difference(&en).collect::<Vec<_>>(), Vec::<&&str>::new(), "in ms.ftl only");
        assert_eq!(en.difference(&ms).collect::<Vec<_>>(), Vec::<&&str>::new(), "in en.ftl only");
        assert!(ms.len() > 50);
    }

    /// Every `.t("…")` / `.f("…"` / `status-…` key used in code and templates exists.
    #[test]
    fn every_key_used_exists() {
        let mut sources = Vec::new();
        for folder in ["templates/portal", "src/portal"] {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
            for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
                if entry.file_name() != "i18n.rs" {
                    sources.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
                }
            }
        }
        let mut missing = BTreeSet::new();
        for source in &sources {
            for opener in [".t(\"", ".f(\""] {
                for piece in source.split(opener).skip(1) {
                    let key = piece.split('"').next().unwrap_or_default();
                    if !key.is_empty() && !key.contains(['{', ' ']) && !MS.contains_key(key) {
                        missing.insert(key.to_owned());
                    }
                }
            }
        }
        // Keys made from a value: every value of each family.
        let mut made: Vec<String> = Vec::new();
        made.extend(crate::request::domain::Status::ALL.iter().map(|s| format!("status-{}", s.as_str())));
        made.extend(crate::request::domain::Action::ALL.iter().map(|a| format!("event-{}", a.as_str())));
        made.push("event-submit".into());
        made.extend(crate::ledger::domain::EntryKind::ALL.iter().map(|k| format!("entry-{}", k.as_str())));
        made.extend(["po", "bank_transfer", "card_counter"].iter().map(|m| format!("method-{m}")));
        made.extend(["submitted", "approved", "rejected"].iter().map(|p| format!("payment-{p}")));
        made.extend(["developer", "retail", "finance", "admin", "system"].iter().map(|p| format!("party-{p}")));
        made.extend(crate::auth::Role::USER_ROLES.iter().map(|r| format!("role-{}", r.as_str())));
        made.extend([400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503].iter().map(|c| format!("error-title-{c}")));
        made.extend(
            [
                "request-submitted",
                "info-request",
                "info-response",
                "quotation",
                "payment",
                "approve",
                "reject",
                "invoice",
                "cancel",
                "settled",
            ]
            .iter()
            .map(|d| format!("done-{d}")),
        );
        for key in made {
            if !MS.contains_key(key.as_str()) {
                missing.insert(key);
            }
        }
        assert!(missing.is_empty(), "missing keys: {missing:?}");
    }

    #[test]
    fn values_fill_placeholders_and_missing_keys_show() {
        let words = Words::new(Language::En);
        assert!(words.t("no-such-key").contains("⟦no-such-key⟧"));
        assert_eq!(Words::new(Language::Ms).t("sign-in"), "Log masuk");
        assert!(words.f("welcome", [("name", "Aminah")]).contains("Aminah"));
    }
}
