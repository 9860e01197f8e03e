//! Marathon timestamps: RFC 3339 text (Marathon writes `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`) to epoch
//! milliseconds, and the HTTP `Date` header of its responses. (Writing them is the simulated
//! Marathon's job: `marathon_sim::format_timestamp`, which the tests here read back.)

use crate::state::Millis;

const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_MINUTE: i64 = 60_000;

/// Parses an RFC 3339 timestamp into milliseconds since the Unix epoch.
///
/// Marathon's own layout (`2020-10-07T09:13:02.771Z`, UTC, exactly three fraction digits) takes a
/// fast path. Also accepted: no fraction or 1 to 9 fraction digits (truncated to milliseconds),
/// `T` or `t` between date and time, and a zone of `Z`, `z`, `+hh:mm` or `-hh:mm`. Years are four
/// digits (0000–9999). Leap seconds (`:60`) and anything else give `None`.
pub fn parse_timestamp(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let (head, rest) = b.split_at(19);
    let base = date_time(head)?;
    // Marathon's layout: `.SSS` then `Z`.
    if let [b'.', a, c, d, b'Z'] = rest {
        return Some(base + i64::from(digits3(*a, *c, *d)?));
    }
    let (fraction, zone) = fraction(rest)?;
    Some(base + fraction - zone_offset(zone)?)
}

/// Reads an HTTP `Date` header (`Tue, 13 Jul 2021 21:33:17 GMT`, or the two obsolete forms HTTP
/// still accepts) into milliseconds since the epoch; whole seconds, as the header has no fraction.
pub fn parse_http_date(s: &str) -> Option<Millis> {
    let time = httpdate::parse_http_date(s.trim()).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    Millis::try_from(since.as_millis()).ok()
}

/// `YYYY-MM-DDTHH:MM:SS` (19 bytes) as milliseconds since the epoch, zone not yet applied.
fn date_time(b: &[u8]) -> Option<Millis> {
    let [
        y1,
        y2,
        y3,
        y4,
        b'-',
        mo1,
        mo2,
        b'-',
        d1,
        d2,
        b'T' | b't',
        h1,
        h2,
        b':',
        mi1,
        mi2,
        b':',
        s1,
        s2,
    ] = *b
    else {
        return None;
    };
    let year = digits2(y1, y2)? * 100 + digits2(y3, y4)?;
    let month = digits2(mo1, mo2)?;
    let day = digits2(d1, d2)?;
    let hour = digits2(h1, h2)?;
    let minute = digits2(mi1, mi2)?;
    let second = digits2(s1, s2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = i64::from(hour * 3600 + minute * 60 + second);
    Some(days * MS_PER_DAY + secs * 1000)
}

/// An optional `.` plus 1–9 digits at the start of `rest`: (milliseconds, what follows).
fn fraction(rest: &[u8]) -> Option<(Millis, &[u8])> {
    let Some(after_dot) = rest.strip_prefix(b".") else {
        return Some((0, rest));
    };
    let count = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
    if count == 0 || count > 9 {
        return None;
    }
    let mut ms = 0;
    let mut scale = 100;
    for d in &after_dot[..count.min(3)] {
        ms += i64::from(d - b'0') * scale;
        scale /= 10;
    }
    Some((ms, &after_dot[count..]))
}

/// `Z`, `z`, `+hh:mm` or `-hh:mm` as milliseconds east of UTC.
fn zone_offset(zone: &[u8]) -> Option<Millis> {
    match *zone {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits2(h1, h2)?;
            let minutes = digits2(m1, m2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = i64::from(hours * 60 + minutes) * MS_PER_MINUTE;
            Some(if sign == b'-' { -offset } else { offset })
        }
        _ => None,
    }
}

fn digit(c: u8) -> Option<u32> {
    c.is_ascii_digit().then(|| u32::from(c - b'0'))
}

fn digits2(a: u8, b: u8) -> Option<u32> {
    Some(digit(a)? * 10 + digit(b)?)
}

fn digits3(a: u8, b: u8, c: u8) -> Option<u32> {
    Some(digit(a)? * 100 + digits2(b, c)?)
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12, day 1–31).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use marathon_sim::format_timestamp;
    use proptest::prelude::*;

    #[test]
    fn http_dates_read_in_whole_seconds() {
        assert_eq!(
            parse_http_date("Wed, 07 Oct 2020 09:13:02 GMT"),
            parse_timestamp("2020-10-07T09:13:02.000Z")
        );
        assert_eq!(
            parse_http_date("Wednesday, 07-Oct-20 09:13:02 GMT"),
            Some(1_602_061_982_000)
        );
        assert_eq!(parse_http_date("2020-10-07T09:13:02.771Z"), None);
        assert_eq!(parse_http_date(""), None);
    }

    const YEAR_0: Millis = -62_167_219_200_000;
    const YEAR_10000: Millis = 253_402_300_800_000;

    #[test]
    fn marathon_layout_parses_to_known_epoch_millis() {
        assert_eq!(
            parse_timestamp("2020-10-07T09:13:02.771Z"),
            Some(1_602_061_982_771)
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_timestamp("2018-10-08T03:09:57.000Z"),
            Some(1_538_968_197_000)
        );
        assert_eq!(
            parse_timestamp("2000-02-29T23:59:59.999Z"),
            Some(951_868_799_999)
        );
    }

    #[test]
    fn dates_before_1970_are_negative() {
        assert_eq!(parse_timestamp("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_timestamp("0000-01-01T00:00:00.000Z"), Some(YEAR_0));
    }

    #[test]
    fn format_writes_marathon_layout() {
        assert_eq!(
            format_timestamp(1_602_061_982_771),
            "2020-10-07T09:13:02.771Z"
        );
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_timestamp(YEAR_10000 - 1), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn fraction_digits_from_none_to_nine_are_accepted_and_truncated() {
        let base = 1_602_061_982_000;
        assert_eq!(parse_timestamp("2020-10-07T09:13:02Z"), Some(base));
        assert_eq!(parse_timestamp("2020-10-07T09:13:02.7Z"), Some(base + 700));
        assert_eq!(parse_timestamp("2020-10-07T09:13:02.77Z"), Some(base + 770));
        assert_eq!(
            parse_timestamp("2020-10-07T09:13:02.7719Z"),
            Some(base + 771)
        );
        assert_eq!(
            parse_timestamp("2020-10-07T09:13:02.771999999Z"),
            Some(base + 771)
        );
        assert_eq!(parse_timestamp("2020-10-07T09:13:02.7719999999Z"), None);
        assert_eq!(parse_timestamp("2020-10-07T09:13:02.Z"), None);
    }

    #[test]
    fn offsets_and_lower_case_separators_are_applied() {
        let utc = Some(1_602_061_982_771);
        assert_eq!(parse_timestamp("2020-10-07T11:13:02.771+02:00"), utc);
        assert_eq!(parse_timestamp("2020-10-07T07:43:02.771-01:30"), utc);
        assert_eq!(parse_timestamp("2020-10-07T09:13:02.771+00:00"), utc);
        assert_eq!(parse_timestamp("2020-10-07t09:13:02.771z"), utc);
        assert_eq!(
            parse_timestamp("2020-10-07T10:13:02+01:00"),
            Some(1_602_061_982_000)
        );
    }

    #[test]
    fn garbage_and_out_of_range_fields_are_rejected() {
        for bad in [
            "",
            "2015",
            "2020-13-01T00:00:00.000Z",
            "2020-00-01T00:00:00.000Z",
            "2021-02-29T00:00:00.000Z",
            "2020-04-31T00:00:00.000Z",
            "2020-10-07T24:00:00.000Z",
            "2020-10-07T09:60:00.000Z",
            "2020-10-07T09:13:60.000Z",
            "2020-10-07T09:13:02.771",
            "2020-10-07 09:13:02.771Z",
            "2020-10-07T09:13:02.771+0200",
            "2020-10-07T09:13:02.771+24:00",
            "2020-10-07T09:13:02.771+02:60",
            "2020-10-07T09:13:02.771ZZ",
            "2020-10-07T09:13:02.7a1Z",
            "+020-10-07T09:13:02.771Z",
            "2016-02-01T14:13:42.499089",
            "2020-10-07T09:13:02.771Z ",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn leap_days_follow_gregorian_rules() {
        assert!(parse_timestamp("2000-02-29T00:00:00Z").is_some());
        assert!(parse_timestamp("2024-02-29T00:00:00Z").is_some());
        assert!(parse_timestamp("1900-02-29T00:00:00Z").is_none());
        assert!(parse_timestamp("2100-02-29T00:00:00Z").is_none());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ms in YEAR_0..YEAR_10000) {
            prop_assert_eq!(parse_timestamp(&format_timestamp(ms)), Some(ms));
        }

        #[test]
        fn local_time_with_offset_parses_to_the_same_instant(
            ms in (YEAR_0 + MS_PER_DAY)..(YEAR_10000 - MS_PER_DAY),
            offset_minutes in -1439i64..=1439,
        ) {
            let local = format_timestamp(ms + offset_minutes * MS_PER_MINUTE);
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let abs = offset_minutes.abs();
            let text = format!("{}{sign}{:02}:{:02}", &local[..local.len() - 1], abs / 60, abs % 60);
            prop_assert_eq!(parse_timestamp(&text), Some(ms));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_timestamp(&s);
        }

        #[test]
        fn parse_never_panics_on_near_misses(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?([Zz]|[+-][0-9]{2}:[0-9]{2})?") {
            if let Some(ms) = parse_timestamp(&s) {
                prop_assert!((YEAR_0 - MS_PER_DAY..YEAR_10000 + MS_PER_DAY).contains(&ms));
            }
        }
    }
}
