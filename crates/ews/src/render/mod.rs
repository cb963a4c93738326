//! Writing store objects as EWS elements: folders in [`folder`], items in [`item`], and the
//! extended properties both carry. The shape decides what is written; the XSD decides the order.

pub(crate) mod folder;
pub(crate) mod item;

use base64::Engine;

use crate::fields::{ExtendedField, ExtendedKey};
use crate::soap::T;
use crate::{time, Request};
use umbox_store::props::{PropTag, PropValue, PropertyBag};
use umbox_xml::Writer;

/// Writes `t:ExtendedProperty` for each requested property the object has, in request order.
pub(crate) fn extended_properties(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    props: &PropertyBag,
    fields: &[&ExtendedField],
) {
    if fields.is_empty() {
        return;
    }
    let named: Vec<_> = fields
        .iter()
        .filter_map(|f| match &f.key {
            ExtendedKey::Named(n) => Some(n.clone()),
            ExtendedKey::Tag(_) => None,
        })
        .collect();
    // A name the mailbox never stored has no id, so no object can carry it.
    let ids = if named.is_empty() {
        Vec::new()
    } else {
        request
            .ctx
            .store
            .named_property_ids(&request.mailbox, &named)
            .unwrap_or_default()
    };
    let mut named_ids = ids.into_iter();
    for field in fields {
        let tag = match &field.key {
            ExtendedKey::Tag(id) => Some(PropTag::new(*id, field.prop_type)),
            ExtendedKey::Named(_) => named_ids
                .next()
                .flatten()
                .map(|id| PropTag::new(id, field.prop_type)),
        };
        let Some(value) = tag.and_then(|tag| props.get(tag)) else {
            continue;
        };
        w.start(T, "ExtendedProperty");
        w.start(T, "ExtendedFieldURI");
        for (name, value) in &field.attributes {
            w.attribute(name, value);
        }
        w.end();
        let values = value_texts(value);
        if value.prop_type().is_multi() {
            w.start(T, "Values");
            for v in &values {
                w.leaf(T, "Value", v);
            }
            w.end();
        } else {
            w.leaf(
                T,
                "Value",
                values.first().map(String::as_str).unwrap_or_default(),
            );
        }
        w.end();
    }
}

/// A property value in its EWS text form(s).
pub(crate) fn value_texts(value: &PropValue) -> Vec<String> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match value {
        PropValue::Int32(v) => vec![v.to_string()],
        PropValue::Int64(v) => vec![v.to_string()],
        PropValue::Double(v) => vec![v.to_string()],
        PropValue::Boolean(v) => vec![if *v { "true" } else { "false" }.to_owned()],
        PropValue::Unicode(v) => vec![v.clone()],
        PropValue::SystemTime(t) => vec![t.to_system_time().map(time::format).unwrap_or_default()],
        PropValue::Guid(g) => vec![g.to_string()],
        PropValue::Binary(b) => vec![b64(b)],
        PropValue::MultiInt32(v) => v.iter().map(ToString::to_string).collect(),
        PropValue::MultiInt64(v) => v.iter().map(ToString::to_string).collect(),
        PropValue::MultiUnicode(v) => v.clone(),
        PropValue::MultiBinary(v) => v.iter().map(|b| b64(b)).collect(),
    }
}

/// `t:EffectiveRights` for the owner of the mailbox: everything.
pub(crate) fn owner_rights(w: &mut Writer<'_>, request: &Request<'_>) {
    w.start(T, "EffectiveRights");
    for right in [
        "CreateAssociated",
        "CreateContents",
        "CreateHierarchy",
        "Delete",
        "Modify",
        "Read",
    ] {
        w.leaf(T, right, "true");
    }
    if request.version >= umbox_base::version::ExchangeVersion::Exchange2010Sp1 {
        w.leaf(T, "ViewPrivateItems", "true");
    }
    w.end();
}
