//! Working days (hari bekerja): weekends and public holidays excluded. The
//! arithmetic here is pure; the holidays come from the `holidays` table that
//! administrators edit (`store`, `http`), shipped with the 2026 federal list.

pub mod http;
pub mod service;
pub mod store;

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};

/// Most working days one call may add (a guard against runaway loops).
pub const WORKING_DAYS_MAX: i64 = 3_660;

/// Which days are worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    weekend: Vec<Weekday>,
    holidays: BTreeSet<Date>,
}

impl WorkingCalendar {
    /// A calendar with these weekend days and holidays.
    #[must_use]
    pub fn new(weekend: impl IntoIterator<Item = Weekday>, holidays: impl IntoIterator<Item = Date>) -> Self {
        Self { weekend: weekend.into_iter().collect(), holidays: holidays.into_iter().collect() }
    }

    /// True when `day` is neither a weekend day nor a holiday.
    #[must_use]
    pub fn is_working_day(&self, day: Date) -> bool {
        !self.weekend.contains(&day.weekday()) && !self.holidays.contains(&day)
    }

    /// The date `count` working days after `start` (`start` itself is not
    /// counted). With no working day at all in the calendar, `start`.
    #[must_use]
    pub fn add_working_days(&self, start: Date, count: i64) -> Date {
        let mut day = start;
        let mut added = 0;
        let mut steps = 0;
        while added < count.clamp(0, WORKING_DAYS_MAX) {
            let Ok(next) = day.tomorrow() else { return day };
            day = next;
            steps += 1;
            if self.is_working_day(day) {
                added += 1;
            } else if steps > WORKING_DAYS_MAX * 7 {
                return start;
            }
        }
        day
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not
    /// after `from`).
    #[must_use]
    pub fn working_days_between(&self, from: Date, to: Date) -> i64 {
        let mut count = 0;
        let mut day = from;
        while day < to {
            let Ok(next) = day.tomorrow() else { break };
            day = next;
            if self.is_working_day(day) {
                count += 1;
            }
        }
        count
    }
}

/// Saturday and Sunday: the federal weekend (Kuala Lumpur, Putrajaya).
pub const FEDERAL_WEEKEND: [Weekday; 2] = [Weekday::Saturday, Weekday::Sunday];

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn holidays_2026() -> Vec<Date> {
        include_str!("../../data/malaysia-public-holidays-2026.csv")
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').next()?.parse().ok())
            .collect()
    }

    fn federal() -> WorkingCalendar {
        WorkingCalendar::new(FEDERAL_WEEKEND, holidays_2026())
    }

    #[test]
    fn the_shipped_2026_list_is_read() {
        assert!(holidays_2026().len() >= 15);
        assert!(!federal().is_working_day(date(2026, 8, 31)), "Hari Kebangsaan");
    }

    #[test]
    fn weekends_are_skipped() {
        // Friday 2026-11-27 + 2 working days = Tuesday 2026-12-01.
        assert_eq!(federal().add_working_days(date(2026, 11, 27), 2), date(2026, 12, 1));
        assert_eq!(federal().add_working_days(date(2026, 11, 28), 1), date(2026, 11, 30));
    }

    #[test]
    fn holidays_are_skipped() {
        // Hari Kebangsaan, Monday 2026-08-31: Friday 28/8 + 1 → Tuesday 1/9.
        assert_eq!(federal().add_working_days(date(2026, 8, 28), 1), date(2026, 9, 1));
        // Chinese New Year 17–18/2/2026 (Tue, Wed): Monday 16/2 + 1 → Thursday 19/2.
        assert_eq!(federal().add_working_days(date(2026, 2, 16), 1), date(2026, 2, 19));
    }

    #[test]
    fn the_year_end_is_crossed() {
        // Christmas Friday 25/12/2026, weekend, New Year 1/1/2027 is not in the
        // 2026 list, so Thursday 24/12 + 2 → Tuesday 29/12.
        assert_eq!(federal().add_working_days(date(2026, 12, 24), 2), date(2026, 12, 29));
        let with_new_year = WorkingCalendar::new(FEDERAL_WEEKEND, [date(2027, 1, 1)]);
        assert_eq!(with_new_year.add_working_days(date(2026, 12, 31), 1), date(2027, 1, 4));
    }

    #[test]
    fn counting_matches_adding() {
        let calendar = federal();
        let start = date(2026, 1, 1);
        for n in 0..60 {
            let end = calendar.add_working_days(start, n);
            assert_eq!(calendar.working_days_between(start, end), n, "{n}");
        }
        assert_eq!(calendar.working_days_between(date(2026, 3, 5), date(2026, 3, 1)), 0);
    }

    #[test]
    fn kedah_kelantan_terengganu_weekends_are_configurable() {
        let friday_weekend = WorkingCalendar::new([Weekday::Friday, Weekday::Saturday], []);
        // Thursday 26/11 + 1 → Sunday 29/11.
        assert_eq!(friday_weekend.add_working_days(date(2026, 11, 26), 1), date(2026, 11, 29));
    }

    #[test]
    fn a_calendar_without_working_days_does_not_loop_forever() {
        let never = WorkingCalendar::new(
            [
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
                Weekday::Saturday,
                Weekday::Sunday,
            ],
            [],
        );
        assert_eq!(never.add_working_days(date(2026, 1, 1), 3), date(2026, 1, 1));
    }
}
