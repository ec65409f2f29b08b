//! The words of the portal and of every e-mail, in Malay and English. Each
//! language is one Fluent file in `locales/`, compiled into the binary and
//! read once into a [`FluentBundle`] by `fluent-bundle`, so plurals
//! (`{ $units -> [one] … *[other] … }`) and numbers follow Fluent's rules for
//! the language. A test checks both files parse, have the same keys, and
//! hold every key the code and templates use; a key that is missing anyway
//! shows as `⟦key⟧`, which the browser tests look for on every page.
//!
//! Unicode isolation marks are turned off: the words go into HTML and plain
//! text mail, where the invisible marks only get in the way (and break
//! searching a page or a message for a number).

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

use crate::auth::users::Language;

const MS_SOURCE: &str = include_str!("../locales/ms.ftl");
const EN_SOURCE: &str = include_str!("../locales/en.ftl");

/// Largest magnitude passed to Fluent as a number: beyond 2^53 an `f64`
/// (Fluent's number type) no longer holds every integer, and the text would change.
const EXACT_INTEGER_MAX: i64 = 1 << 53;

type Bundle = FluentBundle<FluentResource>;

static MS: LazyLock<Bundle> = LazyLock::new(|| bundle("ms", MS_SOURCE));
static EN: LazyLock<Bundle> = LazyLock::new(|| bundle("en", EN_SOURCE));

/// One language's bundle. The files are part of the binary and a test proves
/// they parse cleanly, so a fault here is logged rather than fatal: the
/// entries Fluent could read still work and the rest show as `⟦key⟧`.
fn bundle(language: &str, source: &str) -> Bundle {
    let resource = FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, errors)| {
        tracing::error!(language, ?errors, "locale file does not parse");
        resource
    });
    let id = LanguageIdentifier::from_bytes(language.as_bytes()).unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    bundle.set_use_isolating(false);
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(language, ?errors, "locale file has duplicate keys");
    }
    bundle
}

/// `value` as Fluent sees it: a plain integer (no sign `+`, no leading zero,
/// exactly representable) becomes a number, so plural selectors apply and
/// it prints exactly as given; anything else stays text.
fn value(text: &str) -> FluentValue<'_> {
    match text.parse::<i64>() {
        Ok(number) if number.to_string() == text && number.abs() <= EXACT_INTEGER_MAX => FluentValue::from(number),
        _ => FluentValue::from(text),
    }
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

    fn bundle(self) -> &'static Bundle {
        match self.language {
            Language::Ms => &MS,
            Language::En => &EN,
        }
    }

    /// Whether `key` exists in this language.
    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        self.bundle().get_message(key).is_some_and(|message| message.value().is_some())
    }

    /// The text of `key` with `args`, or `⟦key⟧` when it is missing. A
    /// value the message needs but was not given shows as `{$name}` (and is
    /// logged), the way Fluent writes it.
    #[must_use]
    pub fn format(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundle = self.bundle();
        let Some(pattern) = bundle.get_message(key).and_then(|message| message.value()) else {
            return format!("⟦{key}⟧");
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors).into_owned();
        if !errors.is_empty() {
            tracing::warn!(key, language = self.lang(), ?errors, "words formatted with errors");
        }
        text
    }

    /// The text of `key`, or `⟦key⟧` when it is missing.
    #[must_use]
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The text of `key` with each `{ $name }` given its value. A value that
    /// is a plain integer (`"1"`, `"250"`, not `"007"` or `"1,000"`) goes to
    /// Fluent as a number, so `{ $units -> [one] … *[other] … }` picks the
    /// right plural; it prints exactly as given either way.
    #[must_use]
    pub fn f<'a>(&self, key: &str, values: impl AsRef<[(&'a str, &'a str)]>) -> String {
        let mut args = FluentArgs::new();
        for (name, text) in values.as_ref() {
            args.set(*name, value(text));
        }
        self.format(key, Some(&args))
    }

    /// The text of `key` with the number `number` as `{ $name }`, for plurals.
    #[must_use]
    pub fn n(&self, key: &str, name: &str, number: i64) -> String {
        let mut args = FluentArgs::new();
        args.set(name, number);
        self.format(key, Some(&args))
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

    use fluent_syntax::ast::Entry;
    use fluent_syntax::parser::parse;

    use super::*;

    /// The message keys of one file; the file must parse without errors.
    fn keys(source: &str) -> BTreeSet<String> {
        let resource = parse(source).unwrap_or_else(|(resource, errors)| {
            assert!(errors.is_empty(), "locale file does not parse: {errors:?}");
            resource
        });
        resource
            .body
            .iter()
            .filter_map(|entry| match entry {
                Entry::Message(message) => Some(message.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn both_languages_parse_and_have_exactly_the_same_keys() {
        let (ms, en) = (keys(MS_SOURCE), keys(EN_SOURCE));
        assert_eq!(ms.difference(&en).collect::<Vec<_>>(), Vec::<&String>::new(), "in ms.ftl only");
        assert_eq!(en.difference(&ms).collect::<Vec<_>>(), Vec::<&String>::new(), "in en.ftl only");
        assert!(ms.len() > 50);
        for key in &ms {
            assert!(Words::new(Language::Ms).has(key) && Words::new(Language::En).has(key), "{key} has no text");
        }
    }

    /// Every `.t("…")` / `.f("…"` / `.n("…"` / `status-…` key used in code and templates exists.
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
        let words = Words::new(Language::Ms);
        let mut missing = BTreeSet::new();
        for source in &sources {
            for opener in [".t(\"", ".f(\"", ".n(\""] {
                for piece in source.split(opener).skip(1) {
                    let key = piece.split('"').next().unwrap_or_default();
                    if !key.is_empty() && !key.contains(['{', ' ']) && !words.has(key) {
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
                "pay-online-returned",
                "pay-online-pending",
                "pay-online-waiting",
                "online-credit",
                "online-refund",
            ]
            .iter()
            .map(|d| format!("done-{d}")),
        );
        for key in made {
            if !words.has(&key) {
                missing.insert(key);
            }
        }
        assert!(missing.is_empty(), "missing keys: {missing:?}");
    }

    #[test]
    fn values_fill_placeholders_and_missing_keys_show() {
        let words = Words::new(Language::En);
        assert_eq!(words.t("no-such-key"), "⟦no-such-key⟧");
        assert_eq!(Words::new(Language::Ms).t("sign-in"), "Log masuk");
        assert_eq!(words.f("welcome", [("name", "Aminah")]), "Welcome, Aminah");
    }

    #[test]
    fn english_counts_units_and_days_in_the_singular_and_plural() {
        let words = Words::new(Language::En);
        let left = |units| words.f("low-balance-warning", [("product", "CERT-1Y"), ("units", units)]);
        assert_eq!(left("1"), "Only 1 unit of CERT-1Y is left.");
        assert_eq!(left("2"), "Only 2 units of CERT-1Y are left.");
        assert_eq!(left("0"), "Only 0 units of CERT-1Y are left.");
        assert_eq!(words.n("due-late", "days", 1), "1 working day late");
        assert_eq!(words.n("due-late", "days", 3), "3 working days late");
        let malay = Words::new(Language::Ms);
        assert_eq!(
            malay.f("low-balance-warning", [("product", "CERT-1Y"), ("units", "1")]),
            "Baki CERT-1Y tinggal 1 unit."
        );
        assert_eq!(malay.n("due-late", "days", 2), "lewat 2 hari bekerja");
    }

    #[test]
    fn values_print_exactly_as_given_and_without_isolation_marks() {
        let words = Words::new(Language::En);
        for given in ["0", "-3", "100000", "007", "1,000", "1.50", "9007199254740993", "REQ-2026-000001"] {
            assert_eq!(words.f("welcome", [("name", given)]), format!("Welcome, {given}"));
        }
        assert!(!words.f("welcome", [("name", "x")]).contains(['\u{2068}', '\u{2069}']));
    }
}
