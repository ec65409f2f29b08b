//! Time as a parameter: every read of "now" goes through a [`Clock`], so hold
//! expiry (and, later, working-day SLAs) can be tested by moving time by hand.
//! Timestamps are stored as integer Unix milliseconds on both backends; what a
//! user sees is shown in Asia/Kuala_Lumpur.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The time zone of everything a user sees.
pub const USER_TIME_ZONE: &str = "Asia/Kuala_Lumpur";

/// Source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// The current instant as Unix milliseconds, the form stored in the database.
    fn now_ms(&self) -> i64 {
        self.now().as_millisecond()
    }
}

/// The operating system's clock; the only place that reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A monotonic instant for measuring how long something took or how old a
/// cache entry is (never for what a user sees or what is stored).
#[must_use]
#[allow(clippy::disallowed_methods)]
pub fn monotonic_now() -> std::time::Instant {
    std::time::Instant::now()
}

/// A clock that moves only when told to; for tests and demos.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now_ms: Arc<AtomicI64>,
}

impl ManualClock {
    /// A manual clock set to `start`.
    #[must_use]
    pub fn starting_at(start: Timestamp) -> Self {
        Self { now_ms: Arc::new(AtomicI64::new(start.as_millisecond())) }
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: Timestamp) {
        self.now_ms.store(instant.as_millisecond(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance_seconds(&self, seconds: i64) {
        self.now_ms.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        millis_to_timestamp(self.now_ms.load(Ordering::SeqCst))
    }
}

/// Converts stored milliseconds back to a timestamp, clamping values outside
/// jiff's range (which only a corrupted row could hold).
#[must_use]
pub fn millis_to_timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// The user-facing time zone. The zone is bundled into the binary
/// (`tzdb-bundle-always`), so this works on machines without tzdata.
#[must_use]
pub fn user_time_zone() -> TimeZone {
    TimeZone::get(USER_TIME_ZONE).unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8)))
}

/// The calendar date in Kuala Lumpur at `instant`.
#[must_use]
pub fn today_local(instant: Timestamp) -> jiff::civil::Date {
    instant.to_zoned(user_time_zone()).date()
}

/// RFC 3339 text of stored milliseconds, in Kuala Lumpur time
/// (for example `2026-11-28T12:30:00.000+08:00`).
#[must_use]
pub fn format_rfc3339_local(ms: i64) -> String {
    let timestamp = millis_to_timestamp(ms);
    let offset = user_time_zone().to_offset(timestamp);
    format!("{:.3}", timestamp.display_with_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_shown_in_kuala_lumpur() {
        // 2026-11-28T04:00:00Z is noon in Kuala Lumpur.
        let ms = "2026-11-28T04:00:00Z".parse::<Timestamp>().map(Timestamp::as_millisecond);
        assert_eq!(ms.map(format_rfc3339_local).ok().as_deref(), Some("2026-11-28T12:00:00.000+08:00"));
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::starting_at(Timestamp::UNIX_EPOCH);
        assert_eq!(clock.now_ms(), 0);
        clock.advance_seconds(90);
        assert_eq!(clock.now_ms(), 90_000);
    }
}
