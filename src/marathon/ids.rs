//! Marathon task and instance ids: parsing every historical form and deriving the canonical instance id.
//!
//! Task ids are matched against Marathon's patterns, in Marathon's order (`Task.Id`):
//! 1. `^(.+)\.(instance-|marathon-)([^_.]+)[._]([^.]+)\.(\d+)$`: safePath, prefix, uuid, container, incarnation;
//! 2. the same without `\.(\d+)`;
//! 3. legacy resident `^(.+)([._])([^_.]+)\.(\d+)$`;
//! 4. legacy `^(.+)([._])([^_.]+)$`.
//!
//! The matching is written by hand with the same results as a backtracking regex engine: the greedy
//! `(.+)` takes the longest safePath for which the rest matches, so app ids with dots
//! (`prod_api.v2.instance-…`) keep their dots. `.` is taken to match any character.

use std::borrow::Cow;

use crate::state::TaskRef;

const PREFIXES: [&str; 2] = ["instance-", "marathon-"];
/// Both prefixes have this length.
const PREFIX_LEN: usize = 9;

/// Parses a task id and derives its canonical instance id.
///
/// * Forms 1–2 (`<safePath>.instance-<uuid>._app.1`, `<safePath>.instance-<uuid>.<container>`…): the
///   instance is `<safePath>.<prefix><uuid>`, a borrowed prefix of `id`; `pod` is true unless the
///   container is `_app` or `$anon`.
/// * An id that is itself an instance id (`<safePath>.instance-<uuid>`, as Marathon's docs list a task
///   in `/v2/apps/{id}/tasks`) maps to itself, borrowed, with `pod` false. Marathon would read it as a
///   legacy id with uuid `instance-<uuid>`, which joins with no instance event.
/// * Legacy forms 3–4 (`<safePath>.<uuid>`, `<safePath>.<uuid>.<attempt>`, `<safePath>_<uuid>`): the
///   instance is `<safePath>.marathon-<uuid>`, built (owned).
///
/// Anything else (empty, no separator, empty safePath or uuid) is `None`.
pub fn parse_task_id(id: &str) -> Option<TaskRef<'_>> {
    if let Some((instance_len, container)) = modern(id) {
        return Some(TaskRef {
            id,
            instance: Cow::Borrowed(&id[..instance_len]),
            pod: container != "_app" && container != "$anon",
        });
    }
    if let Some(instance) = parse_instance_id(id) {
        return Some(TaskRef {
            id,
            instance,
            pod: false,
        });
    }
    let (safe_path, uuid) = legacy(id)?;
    Some(TaskRef {
        id,
        instance: Cow::Owned(format!("{safe_path}.marathon-{uuid}")),
        pod: false,
    })
}

/// Accepts an instance id, `^(.+)\.(instance-|marathon-)([^.]+)$` (Marathon's `InstanceId` pattern),
/// and returns it as the canonical form (borrowed). Anything else is `None`.
pub fn parse_instance_id(id: &str) -> Option<Cow<'_, str>> {
    let dot = id.rfind('.')?;
    if dot == 0 {
        return None;
    }
    let uuid = strip_instance_prefix(&id[dot + 1..])?;
    (!uuid.is_empty()).then_some(Cow::Borrowed(id))
}

/// Turns a safePath back into an app id: `prod_web` → `/prod/web`. App id segments never contain `_`.
pub fn app_id_from_safe_path(safe: &str) -> String {
    let mut app = String::with_capacity(safe.len() + 1);
    for segment in safe.split('_') {
        app.push('/');
        app.push_str(segment);
    }
    app
}

/// Forms 1 and 2: (length of `<safePath>.<prefix><uuid>`, container).
///
/// Form 1 is tried first, on the id without its `.<incarnation>`; then form 2 on the whole id.
/// Either way only the last two dots of what is matched can start the instance part (see
/// [`modern_at`]), so the last three dots of the id, found once, are all that is needed.
fn modern(id: &str) -> Option<(usize, &str)> {
    let [d0, d1, d2] = last_dots(id.as_bytes());
    if let Some(d0) = d0
        && is_digits(&id[d0 + 1..])
        && let Some(found) = modern_at(&id[..d0], [d1, d2])
    {
        return Some(found);
    }
    modern_at(id, [d0, d1])
}

/// The positions of the last three dots of `b`, last first.
fn last_dots(b: &[u8]) -> [Option<usize>; 3] {
    let mut dots = [None; 3];
    let mut end = b.len();
    for dot in &mut dots {
        let Some(at) = memchr::memrchr(b'.', &b[..end]) else {
            break;
        };
        *dot = Some(at);
        end = at;
    }
    dots
}

/// `^(.+)\.(instance-|marathon-)([^_.]+)[._]([^.]+)$` on `body`, given its last two dots, last
/// first.
///
/// After the dot that ends safePath come uuid, separator and container, with at most one more dot
/// (the separator), so that dot is one of the last two dots; the rightmost that works is the match.
fn modern_at(body: &str, last_two: [Option<usize>; 2]) -> Option<(usize, &str)> {
    for dot in last_two.into_iter().flatten() {
        if dot == 0 {
            break;
        }
        if let Some(found) = instance_after(body, dot) {
            return Some(found);
        }
    }
    None
}

/// `\.(instance-|marathon-)([^_.]+)[._]([^.]+)$` from the dot at `dot` of `body`.
fn instance_after(body: &str, dot: usize) -> Option<(usize, &str)> {
    let after = strip_instance_prefix(&body[dot + 1..])?;
    // The uuid has no `_` or `.`, so it runs up to the first of them: the separator.
    let uuid_len = memchr::memchr2(b'_', b'.', after.as_bytes())?;
    let container = &after[uuid_len + 1..];
    (uuid_len > 0 && !container.is_empty() && !container.contains('.'))
        .then_some((dot + 1 + PREFIX_LEN + uuid_len, container))
}

/// Forms 3 and 4: (safePath, uuid).
fn legacy(id: &str) -> Option<(&str, &str)> {
    id.rsplit_once('.')
        .filter(|(_, attempt)| is_digits(attempt))
        .and_then(|(head, _)| legacy_body(head))
        .or_else(|| legacy_body(id))
}

/// `^(.+)([._])([^_.]+)$`: the uuid is everything after the last `.` or `_`.
fn legacy_body(body: &str) -> Option<(&str, &str)> {
    let sep = body.rfind(['.', '_'])?;
    let (safe_path, uuid) = (&body[..sep], &body[sep + 1..]);
    (!safe_path.is_empty() && !uuid.is_empty()).then_some((safe_path, uuid))
}

fn strip_instance_prefix(s: &str) -> Option<&str> {
    PREFIXES.iter().find_map(|p| s.strip_prefix(p))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UUID: &str = "5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2";

    fn instance_of(id: &str) -> Option<(String, bool, bool)> {
        let t = parse_task_id(id)?;
        assert_eq!(t.id, id);
        let borrowed = matches!(t.instance, Cow::Borrowed(_));
        Some((t.instance.into_owned(), t.pod, borrowed))
    }

    #[test]
    fn app_task_of_marathon_1_8_maps_to_its_instance_without_allocating() {
        let id = format!("prod_web.instance-{UUID}._app.1");
        let want = format!("prod_web.instance-{UUID}");
        assert_eq!(instance_of(&id), Some((want, false, true)));
    }

    #[test]
    fn pod_task_with_incarnation_is_a_pod_of_its_instance() {
        let id = "prod_cache.instance-0e4b6d1a-0894-11eb-9a3f-0242f5e1c6d2.redis.1";
        let want = "prod_cache.instance-0e4b6d1a-0894-11eb-9a3f-0242f5e1c6d2".to_owned();
        assert_eq!(instance_of(id), Some((want, true, true)));
    }

    #[test]
    fn pod_task_of_marathon_1_4_to_1_7_has_no_incarnation() {
        let id = "pod-with-virtual-network.instance-f575f481-caa6-11e8-a129-70b3d5800001.sleep1";
        let want = "pod-with-virtual-network.instance-f575f481-caa6-11e8-a129-70b3d5800001";
        assert_eq!(instance_of(id), Some((want.to_owned(), true, true)));
    }

    #[test]
    fn anonymous_containers_are_not_pods() {
        let want = format!("app.instance-{UUID}");
        for id in [
            format!("app.instance-{UUID}.$anon"),
            format!("app.instance-{UUID}.$anon.2"),
            format!("app.instance-{UUID}._app"),
            format!("app.instance-{UUID}._app.7"),
        ] {
            assert_eq!(instance_of(&id), Some((want.clone(), false, true)), "{id}");
        }
    }

    #[test]
    fn underscore_separator_before_the_container_is_accepted() {
        let id = format!("app.marathon-{UUID}_web.3");
        assert_eq!(
            instance_of(&id),
            Some((format!("app.marathon-{UUID}"), true, true))
        );
    }

    #[test]
    fn app_ids_with_dots_keep_them_in_the_safe_path() {
        let id = format!("prod_api.v2.instance-{UUID}._app.3");
        let want = format!("prod_api.v2.instance-{UUID}");
        assert_eq!(instance_of(&id), Some((want, false, true)));
        let legacy = format!("prod_api.v2.{UUID}");
        let want = format!("prod_api.v2.marathon-{UUID}");
        assert_eq!(instance_of(&legacy), Some((want, false, false)));
    }

    #[test]
    fn legacy_task_and_its_instance_event_share_one_canonical_instance() {
        let task = parse_task_id("asgard-dev_bla.0139427f-b042-11e8-9638-0242ac12001f").unwrap();
        let event_instance = "asgard-dev_bla.marathon-0139427f-b042-11e8-9638-0242ac12001f";
        assert_eq!(task.instance, event_instance);
        assert_eq!(parse_instance_id(event_instance).unwrap(), task.instance);
        assert!(!task.pod);
    }

    #[test]
    fn legacy_forms_build_a_marathon_instance_id() {
        let cases = [
            (
                "foo.0664256e-6771-11e5-94e1-be5b2935a987",
                "foo.marathon-0664256e-6771-11e5-94e1-be5b2935a987",
            ),
            ("my-app_0-1396592784349", "my-app.marathon-0-1396592784349"),
            (
                "production_lovemag_app.03eb79d1-058d-11e6-a243-72491c981fcc",
                "production_lovemag_app.marathon-03eb79d1-058d-11e6-a243-72491c981fcc",
            ),
            (
                "tools_docker_registry.002b4d28-46b9-11e5-b731-525400cce7ed",
                "tools_docker_registry.marathon-002b4d28-46b9-11e5-b731-525400cce7ed",
            ),
        ];
        for (id, want) in cases {
            assert_eq!(
                instance_of(id),
                Some((want.to_owned(), false, false)),
                "{id}"
            );
        }
    }

    #[test]
    fn resident_legacy_task_drops_the_attempt() {
        let want = format!("app.marathon-{UUID}");
        assert_eq!(
            instance_of(&format!("app.{UUID}.1")),
            Some((want.clone(), false, false))
        );
        assert_eq!(
            instance_of(&format!("app.{UUID}.12")),
            Some((want.clone(), false, false))
        );
        // The reservation placeholder has no attempt suffix.
        assert_eq!(
            instance_of(&format!("app.{UUID}")),
            Some((want, false, false))
        );
    }

    #[test]
    fn an_instance_id_used_as_task_id_maps_to_itself() {
        let id = "minecraft_survival-world.instance-564bd685-4c30-11e5-98c1-be5b2935a987";
        assert_eq!(instance_of(id), Some((id.to_owned(), false, true)));
        let legacy = format!("app.marathon-{UUID}");
        assert_eq!(instance_of(&legacy), Some((legacy.clone(), false, true)));
    }

    #[test]
    fn ids_without_a_usable_separator_are_rejected() {
        for id in [
            "", "app", ".", "_", "app.", "app_", ".uuid", "_uuid", "app.1.", "..", "._.",
        ] {
            assert_eq!(parse_task_id(id), None, "{id:?}");
        }
    }

    #[test]
    fn instance_ids_need_a_prefix_and_a_uuid() {
        let good = format!("prod_api.v2.instance-{UUID}");
        assert_eq!(parse_instance_id(&good), Some(Cow::Borrowed(good.as_str())));
        for bad in [
            String::new(),
            format!("prod_web.{UUID}"),
            "prod_web.instance-".to_owned(),
            format!(".instance-{UUID}"),
            format!("prod_web.instance-{UUID}._app.1"),
            format!("prod_webinstance-{UUID}"),
        ] {
            assert_eq!(parse_instance_id(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rightmost_prefix_wins_like_a_greedy_regex() {
        let id = "a.marathon-x.instance-y.c.1";
        assert_eq!(
            instance_of(id),
            Some(("a.marathon-x.instance-y".to_owned(), true, true))
        );
        // `.instance-y` cannot end safePath here (no separator after y), so the earlier one does.
        let id = "a.marathon-x.instance-y";
        assert_eq!(
            instance_of(id),
            Some(("a.marathon-x".to_owned(), true, true))
        );
    }

    #[test]
    fn safe_path_turns_back_into_an_app_id() {
        assert_eq!(app_id_from_safe_path("prod_web"), "/prod/web");
        assert_eq!(app_id_from_safe_path("prod_api.v2"), "/prod/api.v2");
        assert_eq!(app_id_from_safe_path("foo"), "/foo");
    }

    fn safe_path() -> impl Strategy<Value = String> {
        // Segment letters avoid spelling `instance-`/`marathon-`; dots are allowed inside segments.
        prop::collection::vec("[a-h0-9]([a-h0-9.-]{0,6}[a-h0-9])?", 1..4).prop_map(|s| s.join("_"))
    }

    fn uuid() -> impl Strategy<Value = String> {
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    }

    /// The dots found as first written, one search per step: the reference for [`modern`].
    fn modern_reference(id: &str) -> Option<(usize, &str)> {
        fn body_of(body: &str) -> Option<(usize, &str)> {
            for (dot, _) in body.rmatch_indices('.').take(2) {
                if dot == 0 {
                    break;
                }
                if let Some(found) = instance_after(body, dot) {
                    return Some(found);
                }
            }
            None
        }
        id.rsplit_once('.')
            .filter(|(_, incarnation)| is_digits(incarnation))
            .and_then(|(head, _)| body_of(head))
            .or_else(|| body_of(id))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn modern_matches_its_reference(
            s in "([a._$0-9-]|instance-|marathon-|_app){0,14}"
        ) {
            prop_assert_eq!(modern(&s), modern_reference(&s), "{}", s);
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,60}") {
            if let Some(t) = parse_task_id(&s) {
                prop_assert!(parse_instance_id(&t.instance).is_some());
            }
            let _ = parse_instance_id(&s);
        }

        #[test]
        fn parse_never_panics_on_dotted_noise(s in "[a._$0-9-]{0,12}(instance-|marathon-)?[a._0-9-]{0,12}") {
            let _ = parse_task_id(&s);
        }

        #[test]
        fn modern_ids_round_trip_to_their_instance(
            safe in safe_path(),
            prefix in prop::sample::select(vec!["instance-", "marathon-"]),
            uuid in uuid(),
            sep in prop::sample::select(vec!['.', '_']),
            container in "(_app|\\$anon|[a-z][a-z0-9-]{0,8})",
            incarnation in prop::option::of(1u32..1000),
        ) {
            let instance = format!("{safe}.{prefix}{uuid}");
            let mut id = format!("{instance}{sep}{container}");
            if let Some(n) = incarnation {
                id.push_str(&format!(".{n}"));
            }
            let t = parse_task_id(&id).unwrap();
            prop_assert_eq!(&t.instance, &instance);
            prop_assert!(matches!(t.instance, Cow::Borrowed(_)));
            prop_assert_eq!(t.pod, container != "_app" && container != "$anon");
            prop_assert_eq!(parse_instance_id(&instance), Some(Cow::Borrowed(instance.as_str())));
        }

        #[test]
        fn legacy_ids_round_trip_to_their_instance(
            safe in safe_path(),
            uuid in uuid(),
            attempt in prop::option::of(1u32..100),
        ) {
            let mut id = format!("{safe}.{uuid}");
            if let Some(n) = attempt {
                id.push_str(&format!(".{n}"));
            }
            let t = parse_task_id(&id).unwrap();
            prop_assert_eq!(t.instance, format!("{safe}.marathon-{uuid}"));
            prop_assert!(!t.pod);
        }
    }
}
