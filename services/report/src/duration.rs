//! Durations as the report judges and shows them: rounded to a tenth of a
//! second, written as `m:ss` (minutes are not folded into hours, so a
//! 70-minute module reads `70:00`).

/// Seconds rounded to a tenth of a second, the resolution at which every
/// duration is both judged and shown, so a verdict never disagrees with the
/// number printed next to it.
pub(crate) fn judged(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

/// Seconds rounded to the millisecond, for stored sums (keeps float noise such
/// as `3600.0000000000005` out of the JSON).
pub(crate) fn stored(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// `m:ss`, or `m:ss.s` when the tenth of a second is not zero.
/// Negative and non-finite values show as `0:00`.
pub(crate) fn mss(seconds: f64) -> String {
    // `as` saturates and maps NaN to 0, so no input can make this panic.
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    let (whole, tenth) = (tenths / 10, tenths % 10);
    let (m, s) = (whole / 60, whole % 60);
    if tenth == 0 {
        format!("{m}:{s:02}")
    } else {
        format!("{m}:{s:02}.{tenth}")
    }
}

/// A threshold in minutes, in words: `15 min`, `1.5 min`.
pub(crate) fn minutes(seconds: f64) -> String {
    format!("{} min", minutes_number(seconds))
}

/// A range of thresholds in minutes, in words: `30–60 min`.
pub(crate) fn minutes_range(low: f64, high: f64) -> String {
    format!("{}–{} min", minutes_number(low), minutes_number(high))
}

/// Whole minutes without decimals, others with one decimal.
fn minutes_number(seconds: f64) -> String {
    let m = seconds / 60.0;
    if (m - m.round()).abs() < 1e-9 {
        format!("{}", m.round())
    } else {
        format!("{m:.1}")
    }
}

/// Seconds for the CSV: fixed three decimals.
pub(crate) fn seconds(seconds: f64) -> String {
    format!("{seconds:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mss_rounds_to_tenths_and_keeps_minutes() {
        assert_eq!(mss(0.0), "0:00");
        assert_eq!(mss(90.0), "1:30");
        assert_eq!(mss(899.96), "15:00");
        assert_eq!(mss(899.94), "14:59.9");
        assert_eq!(mss(4200.0), "70:00");
        assert_eq!(mss(f64::NAN), "0:00");
        assert_eq!(mss(-5.0), "0:00");
    }

    #[test]
    fn minutes_in_words() {
        assert_eq!(minutes(900.0), "15 min");
        assert_eq!(minutes(90.0), "1.5 min");
        assert_eq!(minutes(2700.0), "45 min");
        assert_eq!(minutes_range(1800.0, 3600.0), "30–60 min");
    }

    #[test]
    fn judged_matches_shown() {
        assert_eq!(judged(899.96), 900.0);
        assert_eq!(mss(judged(899.96)), "15:00");
        assert_eq!(stored(1200.04 * 3.0), 3600.12);
    }
}
