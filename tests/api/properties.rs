//! Property test: random sequences of consume, hold, commit, release, expire
//! and adjust against a plain in-memory model. After every step the stored
//! balances equal the model's and nothing is negative; at the end the ledger
//! verifies.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kuota::clock::{Clock, ManualClock, SystemClock};
use kuota::db::Db;
use kuota::developer::{NewDeveloper, store::insert_verified};
use kuota::ledger::{
    Command, HoldExpiry, HoldSettlement, Ledger, Operation, Outcome, Reference, Rejection, SignedUnits, Units, Written,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};

use crate::helpers::{Backend, TestDatabase};

const PRODUCTS: [&str; 2] = ["CERT-1M", "CERT-1Y"];

#[derive(Debug, Clone)]
enum Step {
    Consume { product: usize, units: i64 },
    Hold { product: usize, units: i64, seconds: i64 },
    Commit { hold: usize },
    Release { hold: usize },
    Advance { seconds: i64 },
    Adjust { product: usize, units: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..2_usize, 1..15_i64).prop_map(|(product, units)| Step::Consume { product, units }),
        3 => (0..2_usize, 1..15_i64, 1..120_i64).prop_map(|(product, units, seconds)| Step::Hold { product, units, seconds }),
        2 => (0..8_usize).prop_map(|hold| Step::Commit { hold }),
        2 => (0..8_usize).prop_map(|hold| Step::Release { hold }),
        1 => (0..150_i64).prop_map(|seconds| Step::Advance { seconds }),
        3 => (0..2_usize, -20..40_i64).prop_filter("non-zero", |(_, u)| *u != 0).prop_map(|(product, units)| Step::Adjust { product, units }),
    ]
}

/// The plain model: per product (credited, consumed, held), and the holds.
#[derive(Debug, Default)]
struct Model {
    accounts: HashMap<usize, (i64, i64, i64)>,
    holds: Vec<ModelHold>,
}

#[derive(Debug)]
struct ModelHold {
    id: i64,
    product: usize,
    units: i64,
    expires_at_ms: i64,
    pending: bool,
}

impl Model {
    fn available(&self, product: usize) -> i64 {
        let (credited, consumed, held) = self.accounts.get(&product).copied().unwrap_or_default();
        credited - consumed - held
    }

    fn expire(&mut self, now_ms: i64) {
        for hold in self.holds.iter_mut().filter(|h| h.pending && h.expires_at_ms <= now_ms) {
            hold.pending = false;
            self.accounts.entry(hold.product).or_default().2 -= hold.units;
        }
    }
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    db: Db,
    ledger: Ledger,
    audit_key: Arc<kuota::audit::Key>,
    clock: ManualClock,
    _database: TestDatabase,
}

fn fixture(backend: Backend) -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let clock = ManualClock::starting_at(SystemClock.now());
    let (database, db, ledger, audit_key) = runtime.block_on(async {
        let database = TestDatabase::create(backend).await;
        let db = Db::connect(&database.config()).await.unwrap();
        db.migrate().await.unwrap();
        let audit_key = kuota::startup::open_audit_trail(&database.config(), &db).await.unwrap();
        let ledger =
            Ledger::start(db.clone(), Arc::new(clock.clone()), audit_key.clone(), kuota::metrics::Metrics::new());
        (database, db, ledger, audit_key)
    });
    Fixture { runtime, db, ledger, audit_key, clock, _database: database }
}

async fn write(ledger: &Ledger, operation: Operation) -> Outcome {
    match ledger.write(Command { operation, actor: "test".into(), idempotency: None }).await.unwrap() {
        Written::Fresh(outcome) => outcome,
        Written::Replayed(_) => panic!("nothing is replayed without a key"),
    }
}

async fn run_case(fixture: &Fixture, steps: Vec<Step>) -> Result<(), TestCaseError> {
    static DEVELOPER: AtomicU64 = AtomicU64::new(0);
    let n = DEVELOPER.fetch_add(1, Ordering::SeqCst);
    let developer = NewDeveloper {
        code: format!("PROP-{n}").parse().unwrap(),
        name: "Model Sdn Bhd".parse().unwrap(),
        registration_no: format!("2020010{n:05}").parse().unwrap(),
        email: "m@model.my".parse().unwrap(),
    };
    let developer_id =
        insert_verified(fixture.db.pool(), (&fixture.audit_key, "test"), &developer, fixture.clock.now_ms())
            .await
            .unwrap()
            .id;
    let subject = Subject { developer_id, code: developer.code.to_string() };
    let mut model = Model::default();
    for step in steps {
        apply_step(fixture, &subject, &mut model, step).await?;
        check_balances(fixture, developer_id, &mut model).await?;
    }
    let (_, wrong) = kuota::ledger::verify::verify(fixture.db.pool()).await.unwrap();
    prop_assert!(wrong.is_empty(), "{:?}", wrong);
    let (_, bad) = kuota::audit::verify(fixture.db.pool(), &fixture.audit_key).await.unwrap();
    prop_assert_eq!(bad, None);
    Ok(())
}

/// The developer a case runs against.
struct Subject {
    developer_id: i64,
    code: String,
}

/// Applies one step to the ledger and the model, checking the ledger's answer.
async fn apply_step(fixture: &Fixture, subject: &Subject, model: &mut Model, step: Step) -> Result<(), TestCaseError> {
    let now_ms = fixture.clock.now_ms();
    let developer_id = subject.developer_id;
    match step {
        Step::Consume { product, units } => {
            let reference = Reference::new("p").unwrap();
            let operation = Operation::Consume {
                developer_id,
                product: PRODUCTS[product].into(),
                units: Units::new(units).unwrap(),
                reference,
            };
            let outcome = write(&fixture.ledger, operation).await;
            model.expire(now_ms);
            let enough = model.available(product) >= units;
            prop_assert_eq!(
                matches!(outcome, Outcome::Consumed { .. }),
                enough,
                "consume {} of {}: {:?}",
                units,
                product,
                outcome
            );
            if enough {
                model.accounts.entry(product).or_default().1 += units;
            }
        }
        Step::Hold { product, units, seconds } => hold_step(fixture, subject, model, (product, units, seconds)).await?,
        Step::Commit { hold } | Step::Release { hold } if hold < model.holds.len() => {
            settle_step(fixture, model, hold, matches!(step, Step::Commit { .. })).await?;
        }
        Step::Commit { .. } | Step::Release { .. } => {}
        Step::Advance { seconds } => {
            fixture.clock.advance_seconds(seconds);
            fixture.ledger.expire_due_holds().await.unwrap();
            model.expire(fixture.clock.now_ms());
        }
        Step::Adjust { product, units } => {
            let operation = Operation::Adjust {
                developer_id,
                product: PRODUCTS[product].into(),
                units: SignedUnits::new(units).unwrap(),
                reason: Reference::new("a").unwrap(),
            };
            let outcome = write(&fixture.ledger, operation).await;
            model.expire(now_ms);
            let allowed = model.available(product) + units >= 0;
            prop_assert_eq!(matches!(outcome, Outcome::Adjusted { .. }), allowed, "{:?}", outcome);
            if allowed {
                model.accounts.entry(product).or_default().0 += units;
            }
        }
    }
    Ok(())
}

async fn hold_step(
    fixture: &Fixture,
    subject: &Subject,
    model: &mut Model,
    (product, units, seconds): (usize, i64, i64),
) -> Result<(), TestCaseError> {
    let now_ms = fixture.clock.now_ms();
    let operation = Operation::PlaceHold {
        developer_id: subject.developer_id,
        developer_code: subject.code.clone(),
        product: PRODUCTS[product].into(),
        units: Units::new(units).unwrap(),
        reference: Reference::new("h").unwrap(),
        expiry: HoldExpiry::new(Some(seconds)).unwrap(),
    };
    let outcome = write(&fixture.ledger, operation).await;
    model.expire(now_ms);
    let enough = model.available(product) >= units;
    match outcome {
        Outcome::HoldPlaced(hold) => {
            prop_assert!(enough, "hold placed without enough units");
            model.accounts.entry(product).or_default().2 += units;
            model.holds.push(ModelHold {
                id: hold.id,
                product,
                units,
                expires_at_ms: now_ms + seconds * 1000,
                pending: true,
            });
        }
        other => prop_assert!(
            !enough && matches!(other, Outcome::Rejected(Rejection::InsufficientQuota { .. })),
            "{:?}",
            other
        ),
    }
    Ok(())
}

async fn settle_step(fixture: &Fixture, model: &mut Model, hold: usize, commit: bool) -> Result<(), TestCaseError> {
    let now_ms = fixture.clock.now_ms();
    let settlement = if commit { HoldSettlement::Commit } else { HoldSettlement::Release };
    let outcome = write(&fixture.ledger, Operation::SettleHold { hold_id: model.holds[hold].id, settlement }).await;
    model.expire(now_ms);
    let target = &mut model.holds[hold];
    prop_assert_eq!(matches!(outcome, Outcome::HoldSettled(_)), target.pending, "{:?}", outcome);
    if target.pending {
        target.pending = false;
        let account = model.accounts.entry(target.product).or_default();
        account.2 -= target.units;
        if commit {
            account.1 += target.units;
        }
    }
    Ok(())
}

/// Every stored balance equals the model's, and none is negative.
async fn check_balances(fixture: &Fixture, developer_id: i64, model: &mut Model) -> Result<(), TestCaseError> {
    let balances = fixture.ledger.balances(developer_id).await.unwrap();
    model.expire(fixture.clock.now_ms());
    for (index, product) in PRODUCTS.iter().enumerate() {
        let (_, stored) = balances.iter().find(|(code, _)| code == product).unwrap();
        let (credited, consumed, held) = model.accounts.get(&index).copied().unwrap_or_default();
        prop_assert_eq!(
            (stored.credited, stored.consumed, stored.held, stored.available),
            (credited, consumed, held, credited - consumed - held)
        );
        prop_assert!(stored.available >= 0 && stored.held >= 0);
    }
    Ok(())
}

fn run(backend: Backend, cases: u32) {
    let fixture = fixture(backend);
    let mut runner = TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() });
    let result = runner
        .run(&proptest::collection::vec(step(), 1..40), |steps| fixture.runtime.block_on(run_case(&fixture, steps)));
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn the_ledger_matches_a_plain_model_on_sqlite() {
    run(Backend::Sqlite, 64);
}

#[test]
fn the_ledger_matches_a_plain_model_on_postgres() {
    run(Backend::Postgres, 48);
}
