//! Places in a spec's value tree: found by the path the spec reader gives them, made where the
//! fix needs them, and refused where a CloudFormation function decides them at deploy time.

use anyhow::{bail, Context, Result};
use serde_yaml_ng::{Mapping, Value};

/// What `now`, a list or a map, adds to `was`.
pub(super) fn added(was: Option<&Value>, now: &Value) -> Option<Value> {
    match now {
        Value::Sequence(list) => {
            let was = items(was);
            let new: Vec<Value> = list.iter().filter(|i| !was.contains(i)).cloned().collect();
            (!new.is_empty()).then_some(Value::Sequence(new))
        }
        Value::Mapping(map) => {
            let was = was.and_then(Value::as_mapping);
            let new = map
                .iter()
                .filter(|(k, _)| !was.is_some_and(|w| w.contains_key(*k)));
            let new: Mapping = new.map(|(k, v)| (k.clone(), v.clone())).collect();
            (!new.is_empty()).then_some(Value::Mapping(new))
        }
        _ => None,
    }
}

/// The value at `path` (`a.b[2].c`, as the spec reader names places; empty for the document).
pub(super) fn at_path<'a>(mut value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    for (name, index) in steps(path)? {
        value = value.get_mut(name)?;
        if let Some(i) = index {
            value = value.get_mut(i)?;
        }
    }
    Some(value)
}

/// The value at `path`, to read.
pub(super) fn get_path<'a>(mut value: &'a Value, path: &str) -> Option<&'a Value> {
    for (name, index) in steps(path)? {
        value = value.get(name)?;
        if let Some(i) = index {
            value = value.get(i)?;
        }
    }
    Some(value)
}

/// The steps of a path: each key, with the index that follows it (`b[2]`); None where an index
/// is not a number.
pub(super) fn steps(path: &str) -> Option<Vec<(&str, Option<usize>)>> {
    let steps = path.split('.').filter(|s| !s.is_empty());
    steps
        .map(|step| match step.split_once('[') {
            Some((name, rest)) => Some((name, Some(rest.strip_suffix(']')?.parse().ok()?))),
            None => Some((step, None)),
        })
        .collect()
}

pub(super) fn mapping<const N: usize>(entries: [(String, Value); N]) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// The entries of a list; a string stands for the list of itself, as compose takes it.
pub(super) fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Sequence(list)) => list.iter().collect(),
        Some(Value::Null) | None => vec![],
        Some(one) => vec![one],
    }
}

/// The map at `key` of `map`, made when absent or empty (`volumes:` with nothing after it).
pub(super) fn map_at<'a>(map: &'a mut Mapping, key: &str) -> Result<&'a mut Mapping> {
    let value = made_at(map, key, || Value::Mapping(Mapping::new()))?;
    value
        .as_mapping_mut()
        .with_context(|| format!("its {key} is not a map"))
}

/// The list at `key` of `map`, made when absent or empty.
pub(super) fn list_at<'a>(map: &'a mut Mapping, key: &str) -> Result<&'a mut Vec<Value>> {
    let value = made_at(map, key, || Value::Sequence(vec![]))?;
    value
        .as_sequence_mut()
        .with_context(|| format!("its {key} is not a list"))
}

/// The value at `key` of `map`, `empty()` where it is absent or null; refused where a
/// CloudFormation function gives it.
pub(super) fn made_at<'a>(
    map: &'a mut Mapping,
    key: &str,
    empty: fn() -> Value,
) -> Result<&'a mut Value> {
    let value = map.entry(key.into()).or_insert(Value::Null);
    if value.is_null() {
        *value = empty();
    }
    refuse_function(key, value)?;
    Ok(value)
}

/// A CloudFormation function (`{"Fn::If": ...}`, `{"Ref": ...}`) decides `key`'s value only when
/// the stack is deployed: nothing can be merged into it.
pub(super) fn refuse_function(key: &str, value: &Value) -> Result<()> {
    let function = value.as_mapping().filter(|m| m.len() == 1).and_then(|m| {
        let name = m.keys().next()?.as_str()?;
        (name == "Ref" || name.starts_with("Fn::")).then_some(name)
    });
    match function {
        Some(name) => bail!("its {key} is given by {name}"),
        None => Ok(()),
    }
}
