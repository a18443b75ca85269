//! A trace in the Informal Trace Format (ITF) that Apalache and Quint read and write
//! (<https://apalache-mc.org/docs/adr/015adr-trace.html>): `#meta`, `vars`, and one object per
//! state mapping each variable to its value.
//!
//! Values are converted from the model's own serde serialisation by a serializer of our own
//! (not through JSON, which would lose the shape serde gives): integers become `{"#bigint": "n"}`, sequences lists, tuples `{"#tup": [...]}`, maps
//! `{"#map": [[k, v], ...]}`, structs records, enum variants Quint's `{"tag", "value"}`
//! records (unit variants with the empty tuple), and `Option` the variants `Some`/`None`.
//! Fixed-size arrays are tuples to serde, so they become `#tup`. `#set` appears where a value
//! is serialised through [`SetOf`]; our models keep their sets as bit masks (integers) or
//! sorted sequences, which stay what they are.

use serde::ser::{self, Serialize};
use serde_json::{Map, Value, json};

use super::{Replayed, TraceFile};

/// The ITF document of a replayed trace: the initial state, then the state after each step.
/// Each state's `#meta` holds its index and, after the initial state, the step's action text.
pub fn render(file: &TraceFile, replayed: &Replayed, source: &str) -> Result<Value, String> {
    let mut states = vec![(replayed.init_itf.clone(), None)];
    for step in &replayed.steps {
        let state = step.itf.clone().ok_or("a replayed step has no state")?;
        states.push((state, step.text.clone()));
    }
    let vars: Vec<String> = match &replayed.init_itf {
        Value::Object(m) => m.keys().cloned().collect(),
        _ => vec!["state".to_string()],
    };
    let mut out_states = Vec::new();
    for (i, (state, text)) in states.into_iter().enumerate() {
        let mut obj = Map::new();
        let mut meta = Map::new();
        meta.insert("index".into(), json!(i));
        if let Some(t) = text {
            meta.insert("action".into(), json!(t));
        }
        obj.insert("#meta".into(), Value::Object(meta));
        match state {
            Value::Object(m) => obj.extend(m),
            other => {
                obj.insert("state".into(), other);
            }
        }
        out_states.push(Value::Object(obj));
    }
    let mut description = format!(
        "quorate trace of {} (config {}",
        file.protocol,
        file.config.as_deref().unwrap_or("default")
    );
    if let Some(m) = &file.mutant {
        description.push_str(&format!(", mutant {m}"));
    }
    description.push(')');
    Ok(json!({
        "#meta": {
            "format": "ITF",
            "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
            "source": source,
            "description": description,
        },
        "vars": vars,
        "states": out_states,
    }))
}

/// Serialise `value` straight to ITF, keeping serde's shape (tuples, maps, variants, options)
/// that JSON would lose.
pub fn to_itf<T: Serialize + ?Sized>(value: &T) -> Result<Value, String> {
    value.serialize(Itf).map_err(|e| e.0)
}

/// A set for ITF: serialised as `{"#set": [...]}` by [`to_itf`] (and as a plain sequence by
/// every other serializer).
pub struct SetOf<'a, T>(pub &'a [T]);

impl<T: Serialize> Serialize for SetOf<'_, T> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(SET_MARKER, self.0)
    }
}

const SET_MARKER: &str = "$itf::set";

/// A conversion error.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

struct Itf;

fn big<T: std::fmt::Display>(n: T) -> Value {
    json!({ "#bigint": n.to_string() })
}

fn variant(tag: &str, value: Value) -> Value {
    json!({ "tag": tag, "value": value })
}

fn unit() -> Value {
    json!({ "#tup": [] })
}

/// Collects a sequence, tuple, map or struct.
struct Collect {
    kind: Kind,
    items: Vec<Value>,
    fields: Map<String, Value>,
    key: Option<Value>,
}

enum Kind {
    List,
    Tup,
    Map,
    Record,
    Variant(&'static str, bool),
}

impl Collect {
    fn new(kind: Kind) -> Self {
        Collect {
            kind,
            items: Vec::new(),
            fields: Map::new(),
            key: None,
        }
    }

    fn done(self) -> Value {
        match self.kind {
            Kind::List => Value::Array(self.items),
            Kind::Tup => json!({ "#tup": self.items }),
            Kind::Map => json!({ "#map": self.items }),
            Kind::Record => Value::Object(self.fields),
            Kind::Variant(tag, true) => variant(tag, Value::Object(self.fields)),
            Kind::Variant(tag, false) => variant(tag, json!({ "#tup": self.items })),
        }
    }
}

impl ser::Serializer for Itf {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Collect;
    type SerializeTuple = Collect;
    type SerializeTupleStruct = Collect;
    type SerializeTupleVariant = Collect;
    type SerializeMap = Collect;
    type SerializeStruct = Collect;
    type SerializeStructVariant = Collect;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, Error> {
        Ok(big(v))
    }
    fn serialize_f32(self, _: f32) -> Result<Value, Error> {
        Err(Error("ITF has no floating-point numbers".into()))
    }
    fn serialize_f64(self, _: f64) -> Result<Value, Error> {
        Err(Error("ITF has no floating-point numbers".into()))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::Array(v.iter().map(|b| big(*b)).collect()))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(variant("None", unit()))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        Ok(variant("Some", v.serialize(Itf)?))
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(unit())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, Error> {
        Ok(unit())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        tag: &'static str,
    ) -> Result<Value, Error> {
        Ok(variant(tag, unit()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        let inner = v.serialize(Itf)?;
        if name == SET_MARKER {
            return match inner {
                Value::Array(items) => Ok(json!({ "#set": items })),
                other => Err(Error(format!(
                    "a set must serialise as a sequence, not {other}"
                ))),
            };
        }
        Ok(inner)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        tag: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        Ok(variant(tag, v.serialize(Itf)?))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Collect, Error> {
        Ok(Collect::new(Kind::List))
    }
    fn serialize_tuple(self, _: usize) -> Result<Collect, Error> {
        Ok(Collect::new(Kind::Tup))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Collect, Error> {
        Ok(Collect::new(Kind::Tup))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        tag: &'static str,
        _: usize,
    ) -> Result<Collect, Error> {
        Ok(Collect::new(Kind::Variant(tag, false)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Collect, Error> {
        Ok(Collect::new(Kind::Map))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Collect, Error> {
        Ok(Collect::new(Kind::Record))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        tag: &'static str,
        _: usize,
    ) -> Result<Collect, Error> {
        Ok(Collect::new(Kind::Variant(tag, true)))
    }
}

/// The four serde traits that collect unnamed elements (sequences, tuples, tuple structs and
/// tuple variants) do the same thing here.
macro_rules! collect_elements {
    ($($tr:ident :: $method:ident),+) => {$(
        impl ser::$tr for Collect {
            type Ok = Value;
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.items.push(v.serialize(Itf)?);
                Ok(())
            }
            fn end(self) -> Result<Value, Error> {
                Ok(self.done())
            }
        }
    )+};
}

collect_elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Collect {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.key = Some(k.serialize(Itf)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let k = self
            .key
            .take()
            .ok_or_else(|| Error("a map value came before its key".into()))?;
        self.items.push(json!([k, v.serialize(Itf)?]));
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        Ok(self.done())
    }
}

/// Structs and struct variants both collect named fields.
macro_rules! collect_fields {
    ($($tr:ident),+) => {$(
        impl ser::$tr for Collect {
            type Ok = Value;
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                name: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                self.fields.insert(name.to_string(), v.serialize(Itf)?);
                Ok(())
            }
            fn end(self) -> Result<Value, Error> {
                Ok(self.done())
            }
        }
    )+};
}

collect_fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    enum Op {
        Idle,
        Move { to: u8 },
        Pair(u8, bool),
    }

    #[derive(serde::Serialize)]
    struct S {
        n: u64,
        pair: (u8, bool),
        list: Vec<u8>,
        map: BTreeMap<u8, bool>,
        ops: Vec<Op>,
        maybe: Option<u8>,
    }

    #[test]
    fn values_take_their_itf_shapes() {
        let s = S {
            n: 1 << 40,
            pair: (1, true),
            list: vec![2],
            map: BTreeMap::from([(3, false)]),
            ops: vec![Op::Idle, Op::Move { to: 4 }, Op::Pair(5, true)],
            maybe: None,
        };
        let v = to_itf(&s).unwrap();
        assert_eq!(v["n"], json!({"#bigint": "1099511627776"}));
        assert_eq!(v["pair"], json!({"#tup": [{"#bigint": "1"}, true]}));
        assert_eq!(v["list"], json!([{"#bigint": "2"}]));
        assert_eq!(v["map"], json!({"#map": [[{"#bigint": "3"}, false]]}));
        assert_eq!(v["ops"][0], json!({"tag": "Idle", "value": {"#tup": []}}));
        assert_eq!(
            v["ops"][1],
            json!({"tag": "Move", "value": {"to": {"#bigint": "4"}}})
        );
        assert_eq!(
            v["ops"][2],
            json!({"tag": "Pair", "value": {"#tup": [{"#bigint": "5"}, true]}})
        );
        assert_eq!(v["maybe"], json!({"tag": "None", "value": {"#tup": []}}));
        assert_eq!(
            to_itf(&SetOf(&[1u8, 2])).unwrap(),
            json!({"#set": [{"#bigint": "1"}, {"#bigint": "2"}]})
        );
    }
}
