//! Lenient JSON field types shared by the event and REST decoders: each records what a field held
//! (the expected shape, nothing, or something else) without failing, so the caller decides what is wrong.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::state::{Millis, Strategy};

/// Why a field the caller needs cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    WrongType,
    Invalid,
}

/// Visitor methods for JSON scalars of a shape the field does not expect.
macro_rules! other_scalars {
    ($other:expr; $($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok($other)
        })*
    };
}

/// Visitor methods for JSON arrays (and, unless given, objects): skipped, recorded as other.
macro_rules! other_containers {
    ($other:expr) => {
        other_containers!(@seq $other);
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($other)
        }
    };
    (@seq $other:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($other)
        }
    };
}

/// A field expected to hold a string: borrowed from the input when it has no escapes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Text<'a> {
    /// Absent or `null`.
    #[default]
    Absent,
    Str(Cow<'a, str>),
    /// A number, boolean, array or object.
    Other,
}

impl Text<'_> {
    /// The string, or why there is none: `Ok(None)` when absent or null.
    pub(crate) fn get(&self) -> Result<Option<&str>, Fault> {
        match self {
            Text::Absent => Ok(None),
            Text::Str(s) => Ok(Some(s)),
            Text::Other => Err(Fault::WrongType),
        }
    }

    /// The string if the field holds one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        self.get().ok().flatten()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(PhantomData))
    }
}

struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text::Str(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text::Absent)
    }

    other_scalars!(Text::Other; visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64));
    other_containers!(Text::Other);
}

/// A field expected to hold a JSON number of seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum Seconds {
    #[default]
    Absent,
    Whole(u64),
    Negative,
    Fraction(f64),
    Other,
}

impl Seconds {
    /// As milliseconds; absent (or null) is 0. Negative or non-number values are faults.
    pub(crate) fn millis(self) -> Result<Millis, Fault> {
        match self {
            Seconds::Absent => Ok(0),
            Seconds::Whole(s) => Ok(i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000)),
            // `as` saturates for out-of-range floats.
            Seconds::Fraction(s) if s.is_finite() && s >= 0.0 => Ok((s * 1000.0).round() as i64),
            Seconds::Fraction(_) | Seconds::Negative => Err(Fault::Invalid),
            Seconds::Other => Err(Fault::WrongType),
        }
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecondsVisitor)
    }
}

struct SecondsVisitor;

impl<'de> Visitor<'de> for SecondsVisitor {
    type Value = Seconds;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Seconds::Whole(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Seconds::Negative, Seconds::Whole))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Seconds::Fraction(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Seconds::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Seconds::Absent)
    }

    other_scalars!(Seconds::Other; visit_bool(bool), visit_str(&str));
    other_containers!(Seconds::Other);
}

/// An `unreachableStrategy`: absent/null, `"disabled"` (or another string), an object, or other.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum StrategyField {
    #[default]
    Absent,
    /// A string; `true` when it is `"disabled"`.
    Named(bool),
    Enabled(StrategyObject),
    Other,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub(crate) struct StrategyObject {
    #[serde(default, rename = "inactiveAfterSeconds")]
    inactive: Seconds,
    #[serde(default, rename = "expungeAfterSeconds")]
    expunge: Seconds,
}

impl StrategyField {
    /// The strategy named, `None` when the field is absent or null.
    pub(crate) fn strategy(self) -> Result<Option<Strategy>, Fault> {
        match self {
            StrategyField::Absent => Ok(None),
            StrategyField::Named(true) => Ok(Some(Strategy::DISABLED)),
            StrategyField::Named(false) => Err(Fault::Invalid),
            StrategyField::Enabled(o) => Ok(Some(Strategy::enabled(
                o.inactive.millis()?,
                o.expunge.millis()?,
            ))),
            StrategyField::Other => Err(Fault::WrongType),
        }
    }
}

impl<'de> Deserialize<'de> for StrategyField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrategyVisitor)
    }
}

struct StrategyVisitor;

impl<'de> Visitor<'de> for StrategyVisitor {
    type Value = StrategyField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(StrategyField::Named(v == "disabled"))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        StrategyObject::deserialize(MapAccessDeserializer::new(map)).map(StrategyField::Enabled)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(StrategyField::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(StrategyField::Absent)
    }

    other_scalars!(StrategyField::Other; visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64));
    other_containers!(@seq StrategyField::Other);
}

/// A field expected to hold a JSON object, decoded as `T`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Obj<T> {
    /// Absent or `null`.
    #[default]
    Absent,
    Value(T),
    /// A string, number, boolean or array.
    Other,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Obj::Value)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Obj::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Obj::Absent)
    }

    other_scalars!(Obj::Other; visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_str(&str));
    other_containers!(@seq Obj::Other);
}

/// A field expected to hold a JSON array of `T`; anything else (absent, null, another shape) reads
/// as empty.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct List<T>(pub(crate) Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(List(items))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(List::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(List::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(List::default())
    }

    other_scalars!(List::default(); visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_str(&str));
}

/// The fields of an app definition the exporter uses (`/v2/apps` entries, `api_post_event.appDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub(crate) struct AppFields<'a> {
    #[serde(default, borrow)]
    pub(crate) id: Text<'a>,
    #[serde(default, rename = "unreachableStrategy")]
    pub(crate) unreachable_strategy: StrategyField,
    #[serde(default)]
    pub(crate) instances: CountField,
    #[serde(default)]
    pub(crate) labels: LabelsField,
}

/// A whole, non-negative number that fits in 32 bits; anything else (or nothing) reads as `None`:
/// a desired count the exporter cannot read is unknown, not an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CountField(pub(crate) Option<u32>);

impl<'de> Deserialize<'de> for CountField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(CountField(
            value.as_u64().and_then(|n| u32::try_from(n).ok()),
        ))
    }
}

/// Marathon labels: an object of strings. Members that are not strings are left out; anything but
/// an object reads as `None` (unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LabelsField(pub(crate) Option<Vec<(String, String)>>);

impl<'de> Deserialize<'de> for LabelsField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(LabelsField(value.as_object().map(|members| {
            members
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })))
    }
}

/// A serde_json error reduced to what may be shown: its category and position, never payload text.
pub(crate) fn json_position(e: &serde_json::Error) -> (&'static str, usize, usize) {
    let category = match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "eof",
    };
    (category, e.line(), e.column())
}

/// The first byte that is not JSON whitespace.
pub(crate) fn first_token(body: &[u8]) -> Option<u8> {
    body.iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> Text<'_> {
        serde_json::from_str(json).unwrap()
    }

    fn strategy(json: &str) -> Result<Option<Strategy>, Fault> {
        serde_json::from_str::<StrategyField>(json)
            .unwrap()
            .strategy()
    }

    #[test]
    fn text_borrows_plain_strings_and_owns_escaped_ones() {
        assert!(matches!(text(r#""abc""#), Text::Str(Cow::Borrowed("abc"))));
        match text(r#""a\"b""#) {
            Text::Str(Cow::Owned(s)) => assert_eq!(s, "a\"b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_records_null_as_absent_and_other_shapes_as_other() {
        assert_eq!(text("null"), Text::Absent);
        for json in ["1", "-1", "1.5", "true", "[1,[2]]", r#"{"a":{"b":[]}}"#] {
            assert_eq!(text(json), Text::Other, "{json}");
        }
        assert_eq!(Text::Other.get(), Err(Fault::WrongType));
        assert_eq!(Text::Absent.get(), Ok(None));
    }

    #[test]
    fn strategy_reads_the_three_forms() {
        assert_eq!(strategy("null"), Ok(None));
        assert_eq!(strategy(r#""disabled""#), Ok(Some(Strategy::DISABLED)));
        let both = r#"{"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600.5}"#;
        assert_eq!(
            strategy(both),
            Ok(Some(Strategy::enabled(300_000, 600_500)))
        );
    }

    #[test]
    fn strategy_member_missing_or_null_counts_as_zero() {
        let one = r#"{"inactiveAfterSeconds": 60}"#;
        assert_eq!(strategy(one), Ok(Some(Strategy::enabled(60_000, 0))));
        let null = r#"{"inactiveAfterSeconds": null, "expungeAfterSeconds": 5, "x": [1]}"#;
        assert_eq!(strategy(null), Ok(Some(Strategy::enabled(0, 5_000))));
    }

    #[test]
    fn strategy_rejects_other_strings_shapes_and_bad_numbers() {
        assert_eq!(strategy(r#""enabled""#), Err(Fault::Invalid));
        assert_eq!(strategy("[]"), Err(Fault::WrongType));
        assert_eq!(strategy("300"), Err(Fault::WrongType));
        assert_eq!(
            strategy(r#"{"inactiveAfterSeconds": "300"}"#),
            Err(Fault::WrongType)
        );
        assert_eq!(
            strategy(r#"{"expungeAfterSeconds": -1}"#),
            Err(Fault::Invalid)
        );
        assert_eq!(
            strategy(r#"{"expungeAfterSeconds": -0.5}"#),
            Err(Fault::Invalid)
        );
    }

    #[test]
    fn huge_seconds_saturate() {
        assert_eq!(Seconds::Whole(u64::MAX).millis(), Ok(i64::MAX));
        assert_eq!(Seconds::Fraction(1e300).millis(), Ok(i64::MAX));
    }

    #[test]
    fn object_field_skips_non_objects() {
        let app: Obj<AppFields<'_>> = serde_json::from_str(r#"{"id": "/a", "cmd": null}"#).unwrap();
        match app {
            Obj::Value(a) => assert_eq!(a.id.as_str(), Some("/a")),
            other => panic!("{other:?}"),
        }
        let other: Obj<AppFields<'_>> = serde_json::from_str(r#"["/a"]"#).unwrap();
        assert_eq!(other, Obj::Other);
        let null: Obj<AppFields<'_>> = serde_json::from_str("null").unwrap();
        assert_eq!(null, Obj::Absent);
    }

    #[test]
    fn list_field_reads_arrays_and_takes_other_shapes_as_empty() {
        let list: List<Obj<AppFields<'_>>> =
            serde_json::from_str(r#"[{"id": "/a"}, 3, null]"#).unwrap();
        assert_eq!(list.0.len(), 3);
        assert!(matches!(&list.0[0], Obj::Value(a) if a.id.as_str() == Some("/a")));
        assert_eq!((&list.0[1], &list.0[2]), (&Obj::Other, &Obj::Absent));
        for json in ["null", "7", r#""x""#, r#"{"a": [1]}"#, "true"] {
            let list: List<Text<'_>> = serde_json::from_str(json).unwrap();
            assert!(list.0.is_empty(), "{json}");
        }
    }

    #[test]
    fn json_errors_report_position_not_text() {
        let e = serde_json::from_str::<Text<'_>>(r#""secret"#).unwrap_err();
        let (category, line, _) = json_position(&e);
        assert_eq!((category, line), ("eof", 1));
    }

    #[test]
    fn first_token_skips_json_whitespace_only() {
        assert_eq!(first_token(b" \r\n\t{"), Some(b'{'));
        assert_eq!(first_token(b"\x0c{"), Some(0x0c));
        assert_eq!(first_token(b"  "), None);
    }
}
