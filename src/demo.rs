//! `kuota serve --demo`: fills an empty database with a small, believable
//! data set — two verified developers and one awaiting verification, a user
//! per role, example prices and seller details (marked as examples), and
//! requests in every state with a month of quota use — by running the real
//! workflow (the same services the API and the portal call) under a clock that starts a month
//! ago. A database that already has users is left alone.

use std::sync::Arc;

use crate::auth::users::{Language, NewUser};
use crate::auth::{ApiCaller, Role};
use crate::clock::{Clock, ManualClock};
use crate::developer::DeveloperCode;
use crate::error::{AppError, AppResult};
use crate::request::domain::Message;
use crate::request::service::{self, NewLine, NewPayment};
use crate::state::AppState;

/// The password of every demo account. Demo data only: printed at start, never for real accounts.
pub const DEMO_PASSWORD: &str = "demo-kuota-2026";

/// One demo account: role, e-mail.
pub type DemoLogin = (&'static str, &'static str);

/// The demo accounts.
pub const LOGINS: [DemoLogin; 5] = [
    ("admin", "admin@demo.kuota.my"),
    ("retail", "retail@demo.kuota.my"),
    ("finance", "finance@demo.kuota.my"),
    ("developer_admin", "pemaju@majujaya.demo.kuota.my"),
    ("developer_admin", "developer@tamanindah.demo.kuota.my"),
];

const DAY_MS: i64 = 86_400_000;
/// The actor of the companies and users the demo adds.
const DEMO_ACTOR: &str = "system:demo";

/// A tiny valid PDF standing in for a scanned proof of payment.
fn proof(reference: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
         3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n% {reference}\n%%EOF\n"
    )
    .into_bytes()
}

/// Seeds the demo data unless the database already has users; returns
/// whether it did.
///
/// # Errors
/// A database fault or a refused workflow step (a bug in the demo script).
pub async fn seed(live: &AppState) -> anyhow::Result<bool> {
    let users = crate::auth::store::count_users(live.db.pool()).await?;
    if users > 0 {
        return Ok(false);
    }
    let clock = ManualClock::starting_at(crate::clock::millis_to_timestamp(live.clock.now_ms() - 31 * DAY_MS));
    let state = AppState::new(
        live.db.clone(),
        Arc::new(clock.clone()),
        live.blobs.clone(),
        live.public_url.clone(),
        live.audit_key.clone(),
    );
    run(&state, &clock).await.map_err(|e| anyhow::anyhow!("demo data: {e}"))?;
    Ok(true)
}

struct Cast {
    retail: ApiCaller,
    finance: ApiCaller,
    maju: ApiCaller,
    indah: ApiCaller,
}

async fn run(state: &AppState, clock: &ManualClock) -> AppResult<()> {
    seed_prices_and_settings(state, clock).await?;
    let (ids, cast) = seed_companies_and_users(state, clock.now_ms()).await?;
    give_particulars(state, &cast, &ids).await?;
    register_third_company(state).await?;
    // Two finished purchases a month ago: bank transfer (paid) and PO (unpaid).
    let first =
        purchase(state, clock, &cast, &cast.maju, "PMJ-1", &[("CERT-1Y", 500), ("CERT-1M", 100)], "bank_transfer")
            .await?;
    finish(state, &cast, first).await?;
    let second = purchase(state, clock, &cast, &cast.indah, "PMJ-2", &[("CERT-1Y", 200)], "po").await?;
    finish(state, &cast, second).await?;
    // A month of HIMS use by PMJ-1, a little every working day, and requests
    // in every other state spread over the month.
    for day in 0..30_i64 {
        clock.advance_seconds(DAY_MS / 1000);
        let today = crate::clock::today_local(clock.now());
        if today.weekday().to_monday_one_offset() <= 5 {
            use_quota(state, ids[0], day, today).await?;
        }
        requests_of_day(state, clock, &cast, day, today).await?;
    }
    straight_through_from_now(state).await
}

async fn seed_prices_and_settings(state: &AppState, clock: &ManualClock) -> AppResult<()> {
    let pool = state.db.pool();
    let today = crate::clock::today_local(clock.now());
    for (product, sen) in [("CERT-1Y", 5_000), ("CERT-1M", 850)] {
        let unit_price =
            crate::money::Sen::new(sen).map_err(|e| AppError::Internal(anyhow::anyhow!("demo price: {e}")))?;
        crate::catalogue::insert_price(&mut *pool.acquire().await?, product, unit_price, today, clock.now_ms()).await?;
    }
    let mut settings = crate::settings::load(pool).await?;
    settings.seller = crate::settings::Seller {
        name: "Pos Digicert Sdn. Bhd. (CONTOH / EXAMPLE)".into(),
        registration_no: "200001012345".into(),
        sst_no: "W10-1808-32000000".into(),
        address: "Aras 8, Bangunan Contoh, Jalan Contoh, 50450 Kuala Lumpur".into(),
        phone: "03-0000 0000".into(),
        email: "kpkt.retail@posdigicert.com.my".into(),
        bank_name: "Bank Contoh Berhad (EXAMPLE)".into(),
        bank_account: "0000 0000 0000".into(),
        tin: "C10000000000".into(),
        msic_code: "62091".into(),
        msic_activity: "Information Communication Technology (ICT) system security".into(),
        city: "Kuala Lumpur".into(),
        postcode: "50450".into(),
        state_code: "14".into(),
    };
    // The month of history shows every step of the seed's manual process
    // (retail quoting, finance invoicing); straight-through is on from today.
    settings.instant_quotation = false;
    settings.invoice_on_credit = false;
    crate::settings::save(&mut *pool.acquire().await?, &settings).await?;
    Ok(())
}

/// After the history: the straight-through defaults for what the visitor does.
async fn straight_through_from_now(state: &AppState) -> AppResult<()> {
    let mut connection = state.db.pool().acquire().await?;
    let settings = crate::settings::load_in(&mut connection).await?;
    let settings = crate::settings::Settings {
        instant_quotation: crate::settings::Settings::default().instant_quotation,
        invoice_on_credit: crate::settings::Settings::default().invoice_on_credit,
        ..settings
    };
    crate::settings::save(&mut connection, &settings).await?;
    Ok(())
}

/// The two verified companies and a user per role; their ids and the cast.
async fn seed_companies_and_users(state: &AppState, now: i64) -> AppResult<(Vec<i64>, Cast)> {
    let pool = state.db.pool();
    let mut ids = Vec::new();
    for (code, name, ssm) in [
        ("PMJ-1", "Maju Jaya Hartanah Sdn. Bhd.", "201901000005"),
        ("PMJ-2", "Taman Indah Development Sdn. Bhd.", "201801000013"),
    ] {
        let internal = |e: &dyn std::fmt::Display| AppError::Internal(anyhow::anyhow!("demo developer: {e}"));
        let fields = crate::developer::NewDeveloper {
            code: code.parse().map_err(|e| internal(&e))?,
            name: name.parse().map_err(|e| internal(&e))?,
            registration_no: ssm.parse().map_err(|e| internal(&e))?,
            email: format!("akaun@{}.demo.kuota.my", code.to_lowercase()).parse().map_err(|e| internal(&e))?,
        };
        let developer =
            crate::developer::store::insert_verified(pool, (&state.audit_key, DEMO_ACTOR), &fields, now).await?;
        ids.push(developer.id);
    }
    let hash = crate::auth::password::hash(DEMO_PASSWORD)?;
    let mut callers = Vec::new();
    for (index, ((role, email), name)) in
        LOGINS.iter().zip(["Aisyah Admin", "Rahim Retail", "Farah Kewangan", "Lim Wei Ming", "Priya Raman"]).enumerate()
    {
        let role: Role = role.parse().map_err(|e: String| AppError::invalid_field("role", e))?;
        let developer_id = match index {
            3 => Some(ids[0]),
            4 => Some(ids[1]),
            _ => None,
        };
        let user = NewUser {
            email: email.parse().map_err(|_| AppError::invalid_field("email", "demo e-mail"))?,
            name: name.parse().map_err(|_| AppError::invalid_field("name", "demo name"))?,
            language: if index == 4 { Language::En } else { Language::Ms },
            role,
            developer_id,
        };
        let mut connection = pool.acquire().await?;
        let id = crate::auth::users::insert(&mut connection, (&state.audit_key, DEMO_ACTOR), &user, &hash, now).await?;
        callers.push(ApiCaller { client_id: None, user_id: Some(id), role, developer_id });
    }
    let cast = Cast {
        retail: callers[1].clone(),
        finance: callers[2].clone(),
        maju: callers[3].clone(),
        indah: callers[4].clone(),
    };
    Ok((ids, cast))
}

/// The two companies' e-invoice particulars, as their administrators would
/// give them, so their invoices can become e-invoices.
async fn give_particulars(state: &AppState, cast: &Cast, ids: &[i64]) -> AppResult<()> {
    let internal = |e: &dyn std::fmt::Display| AppError::Internal(anyhow::anyhow!("demo particulars: {e}"));
    let companies = [
        (cast.maju.clone(), "C20190100005", "No. 12, Jalan Maju 3, Taman Maju", "43000", "10", "03-8736 1200"),
        (cast.indah.clone(), "C20180100013", "Lot 8, Jalan Indah 1, Taman Indah", "81100", "01", "07-355 2200"),
    ];
    for ((caller, tin, address, postcode, state_code, phone), id) in companies.into_iter().zip(ids) {
        let tin = tin.parse::<crate::developer::domain::TaxId>().map_err(|e| internal(&e))?;
        let sst = "NA".parse::<crate::developer::domain::SstRegistration>().map_err(|e| internal(&e))?;
        let whereabouts = crate::developer::service::Whereabouts {
            address: Some(address.parse().map_err(|e| internal(&e))?),
            postcode: Some(postcode.parse().map_err(|e| internal(&e))?),
            state: Some(state_code.parse().map_err(|e| internal(&e))?),
            phone: Some(phone.parse().map_err(|e| internal(&e))?),
        };
        crate::developer::service::set_tax_identity(state, &caller, *id, (&tin, &sst), &whereabouts).await?;
    }
    Ok(())
}

/// A signing key and self-signed certificate for the demo's simulated
/// MyInvois, made now by the `openssl` command with the subject fields and
/// key usages LHDN asks of a real one (which Pos Digicert issues). PEM key,
/// PEM certificate.
///
/// # Errors
/// No `openssl` on PATH, or it failed.
pub fn signing_certificate() -> anyhow::Result<(String, String)> {
    let folder = std::env::temp_dir().join(format!("kuota-demo-signer-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let subject = "/CN=kuota demo signer (not valid for LHDN)/O=kuota demo/C=MY/organizationIdentifier=C10000000000/serialNumber=DEMO0000000";
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30"])
        .args(["-keyout", "demo.key", "-out", "demo.pem", "-subj", subject])
        .args(["-addext", "keyUsage=critical,nonRepudiation,digitalSignature"])
        .args(["-addext", "extendedKeyUsage=1.3.6.1.4.1.311.10.3.12"])
        .current_dir(&folder)
        .output();
    let read = |name: &str| std::fs::read_to_string(folder.join(name));
    let result = match made {
        Ok(output) if output.status.success() => {
            read("demo.key").and_then(|key| Ok((key, read("demo.pem")?))).map_err(anyhow::Error::from)
        }
        Ok(output) => Err(anyhow::anyhow!("openssl failed: {}", String::from_utf8_lossy(&output.stderr).trim())),
        Err(error) => Err(anyhow::anyhow!("the openssl command is needed to make the demo's certificate: {error}")),
    };
    let _ = std::fs::remove_dir_all(&folder);
    result
}

/// A third company registers itself and waits for verification.
async fn register_third_company(state: &AppState) -> AppResult<()> {
    let registration = crate::developer::service::RegistrationForm {
        company_name: "Seri Bayu Properties Sdn. Bhd.".into(),
        registration_no: "202001000021".into(),
        developer_code: "PMJ-3".into(),
        address: "No. 3, Jalan Bayu, 81100 Johor Bahru".into(),
        postcode: "81100".into(),
        state: "01".into(),
        contact_person: "Nurul Huda".into(),
        email: "akaun@seribayu.demo.kuota.my".into(),
        phone: "+60123456789".into(),
        user_name: "Nurul Huda".into(),
        user_email: "nurul@seribayu.demo.kuota.my".into(),
        user_password: DEMO_PASSWORD.into(),
        user_language: None,
        privacy_notice_acknowledged: true,
        tin: Some("C20200100002".into()),
        sst_registration_no: Some("NA".into()),
    };
    let registration =
        registration.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("demo registration: {e:?}")))?;
    crate::developer::service::register(state, registration, "demo").await?;

    Ok(())
}

/// A working day's consumptions by HIMS.
async fn use_quota(state: &AppState, developer_id: i64, day: i64, today: jiff::civil::Date) -> AppResult<()> {
    for (product, units) in [("CERT-1Y", 6 + (day * 7) % 11), ("CERT-1M", 1 + day % 3)] {
        let command = crate::ledger::Command {
            operation: crate::ledger::Operation::Consume {
                developer_id,
                product: product.into(),
                units: crate::ledger::Units::new(units).map_err(|e| AppError::invalid_field("units", e.to_string()))?,
                reference: crate::ledger::Reference::new(&format!("HIMS-{}-{day}", today.strftime("%Y%m%d")))
                    .map_err(|e| AppError::invalid_field("reference", e.to_string()))?,
            },
            actor: "api_client:hims-demo".into(),
            idempotency: None,
        };
        state.ledger.write(command).await.map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    }
    Ok(())
}

/// Requests in every other state, spread over the month.
async fn requests_of_day(
    state: &AppState,
    clock: &ManualClock,
    cast: &Cast,
    day: i64,
    today: jiff::civil::Date,
) -> AppResult<()> {
    match day {
        5 => {
            let id = submit(state, &cast.maju, "PMJ-1", &[("CERT-1M", 50)], "Projek Taman Maju fasa 2").await?;
            let reason = message("Digantikan oleh permohonan baharu")?;
            service::cancel(state, &cast.maju, id, &reason).await?;
        }
        8 => {
            let id = submit(state, &cast.maju, "PMJ-1", &[("CERT-1Y", 40)], "").await?;
            quote(state, cast, id).await?;
            let mut transaction = state.db.begin_write().await?;
            if let Some(row) = crate::request::store::find(&mut transaction, id).await? {
                let calendar = crate::settings::working_calendar(state.db.pool()).await?;
                let context = crate::request::ActionContext {
                    actor: "system:quotation-expiry",
                    party: crate::request::domain::Party::System,
                    calendar: &calendar,
                    today,
                    now_ms: clock.now_ms(),
                    valid_until: None,
                    message: None,
                    portal_url: &state.public_url,
                    reference: None,
                    audit_key: &state.audit_key,
                    invoice_follows: false,
                };
                crate::request::act(&mut transaction, &row, crate::request::domain::Action::Expire, &context).await?;
            }
            transaction.commit().await?;
        }
        20 => {
            // Credited: waiting for finance.
            purchase(state, clock, cast, &cast.maju, "PMJ-1", &[("CERT-1Y", 300)], "bank_transfer").await?;
        }
        24 => {
            let id = submit(state, &cast.maju, "PMJ-1", &[("CERT-1M", 80)], "").await?;
            quote(state, cast, id).await?;
            pay(state, &cast.maju, id, "bank_transfer", "TRX-DEMO-24").await?;
        }
        25 => {
            let id =
                submit(state, &cast.maju, "PMJ-1", &[("CERT-1Y", 120), ("CERT-1M", 30)], "Untuk projek Residensi Bayu")
                    .await?;
            quote(state, cast, id).await?;
        }
        26 => {
            let id = submit(state, &cast.indah, "PMJ-2", &[("CERT-1Y", 60)], "").await?;
            let question = message("Sila sahkan bilangan pembeli bukan warganegara.")?;
            service::request_info(state, &cast.retail, id, &question).await?;
        }
        27 => {
            submit(state, &cast.maju, "PMJ-1", &[("CERT-1Y", 250)], "Projek Seri Maju").await?;
        }
        29 => {
            submit(state, &cast.indah, "PMJ-2", &[("CERT-1M", 25)], "").await?;
        }
        _ => {}
    }
    Ok(())
}

fn message(text: &str) -> AppResult<Message> {
    text.parse().map_err(|e: crate::request::domain::MessageError| AppError::Internal(anyhow::anyhow!("{e}")))
}

async fn submit(
    state: &AppState,
    developer: &ApiCaller,
    code: &str,
    lines: &[(&str, i64)],
    note: &str,
) -> AppResult<i64> {
    let code: DeveloperCode = code.parse().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    let lines: Vec<NewLine> =
        lines.iter().map(|(product, units)| NewLine { product: (*product).into(), units: *units }).collect();
    let note = if note.is_empty() { None } else { Some(message(note)?) };
    Ok(service::submit(state, developer, &code, &lines, note.as_ref()).await?)
}

async fn quote(state: &AppState, cast: &Cast, id: i64) -> AppResult<String> {
    Ok(service::issue_quotation(state, &cast.retail, id, crate::money::BasisPoints::default()).await?)
}

async fn pay(state: &AppState, developer: &ApiCaller, id: i64, method: &str, reference: &str) -> AppResult<i64> {
    let mut connection = state.db.pool().acquire().await?;
    let quotation = crate::request::store::current_quotation(&mut connection, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no quotation")))?;
    drop(connection);
    let internal = |e: &dyn std::fmt::Display| AppError::Internal(anyhow::anyhow!("{e}"));
    let payment = NewPayment {
        method: method.parse().map_err(|e| internal(&e))?,
        reference: crate::ledger::Reference::new(reference).map_err(|e| internal(&e))?,
        amount: quotation.total,
        paid_on: crate::clock::today_local(state.clock.now()),
        file_name: Some(format!("{reference}.pdf")),
        document: proof(reference),
    };
    Ok(service::submit_payment(state, developer, id, payment).await?)
}

/// Request, quotation, payment and crediting; returns the request id.
async fn purchase(
    state: &AppState,
    clock: &ManualClock,
    cast: &Cast,
    developer: &ApiCaller,
    code: &str,
    lines: &[(&str, i64)],
    method: &str,
) -> AppResult<i64> {
    let id = submit(state, developer, code, lines, "").await?;
    clock.advance_seconds(3600);
    quote(state, cast, id).await?;
    clock.advance_seconds(3600);
    let payment =
        pay(state, developer, id, method, &format!("{}-DEMO-{id}", if method == "po" { "PO" } else { "TRX" })).await?;
    clock.advance_seconds(3600);
    service::approve_payment(state, &cast.retail, payment, None).await?;
    Ok(id)
}

async fn finish(state: &AppState, cast: &Cast, id: i64) -> AppResult<()> {
    crate::finance::service::issue_invoice(state, &cast.finance, id).await?;
    Ok(())
}
