//! Restrictions (MS-OXWSSRCH `t:Restriction`): which folders or items a find returns, and the
//! [`Column`]s that restrictions and sort orders read.
//!
//! A restriction is parsed once per request into a typed tree, with every property path resolved
//! to a [`Column`] up front (named properties through the mailbox's name map), so evaluating it
//! against thousands of items touches no store and parses no text. Comparisons are typed by the
//! left-hand property: strings compare ignoring case as Exchange's default collation does,
//! numbers, times and booleans by value. Never writes XML and never changes a mailbox.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{parse_path, parse_value, ExtendedKey, FieldUri, PropertyPath};
use crate::Request;
use umbox_store::props::{
    property_sets, tags, NamedProperty, PropName, PropTag, PropType, PropValue, PropertyBag,
};
use umbox_store::{Folder, Item};
use umbox_xml::{ns, Element};

/// Most search expressions one restriction may hold; bounds the work per item.
const MAX_NODES: usize = 256;

/// What a find searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// FindItem, SyncFolderItems.
    Items,
    /// FindFolder.
    Folders,
}

/// What a path is resolved for; decides the code of an unsupported one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A restriction (ErrorUnsupportedPathForQuery).
    Query,
    /// A sort order (ErrorUnsupportedPathForSortGroup).
    Sort,
}

/// A folder counter a restriction can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    /// `folder:TotalCount`.
    Total,
    /// `folder:UnreadCount`.
    Unread,
    /// `folder:ChildFolderCount`.
    ChildFolders,
}

/// Where the value of a property path comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Column {
    /// A stored property.
    Prop(PropTag),
    /// `item:Importance`: PidTagImportance, whose constants are spelled Low, Normal, High.
    Importance,
    /// One bit of PidTagMessageFlags as a boolean (`message:IsRead`, `item:IsDraft`).
    Flag(i32),
    /// A folder counter.
    Count(Count),
    /// A named property the mailbox has never used, so no object has it.
    Absent(PropType),
}

/// A folder or an item being tested or sorted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Row<'a> {
    /// An item.
    Item(&'a Item),
    /// A folder.
    Folder(&'a Folder),
}

impl<'a> Row<'a> {
    fn props(self) -> &'a PropertyBag {
        match self {
            Row::Item(item) => &item.props,
            Row::Folder(folder) => &folder.props,
        }
    }
}

/// PidTagImportance when an item does not say (Exchange's default, "Normal").
const NORMAL_IMPORTANCE: i32 = 1;

impl Column {
    /// Resolves `path` for `target`. Paths umbox cannot evaluate are refused with
    /// ErrorUnsupportedPathForQuery or ErrorUnsupportedPathForSortGroup.
    pub(crate) fn resolve(
        request: &Request<'_>,
        path: &PropertyPath,
        target: Target,
        purpose: Purpose,
    ) -> Result<Column, Error> {
        let unsupported = |name: &str| {
            let code = match purpose {
                Purpose::Query => ResponseCode::ErrorUnsupportedPathForQuery,
                Purpose::Sort => ResponseCode::ErrorUnsupportedPathForSortGroup,
            };
            Error::new(code, format!("{name} cannot be used here"))
        };
        let column = match path {
            PropertyPath::Field(field) => {
                let for_folders = field.as_str().starts_with("folder:");
                if for_folders != (target == Target::Folders) {
                    return Err(unsupported(field.as_str()));
                }
                match field {
                    FieldUri::ItemImportance => Column::Importance,
                    FieldUri::MessageIsRead => Column::Flag(tags::MSGFLAG_READ),
                    FieldUri::ItemIsDraft => Column::Flag(tags::MSGFLAG_UNSENT),
                    FieldUri::FolderTotalCount => Column::Count(Count::Total),
                    FieldUri::FolderUnreadCount => Column::Count(Count::Unread),
                    FieldUri::FolderChildFolderCount => Column::Count(Count::ChildFolders),
                    // Categories are PidNameKeywords, a named property (MS-OXPROPS).
                    FieldUri::ItemCategories => named_column(
                        request,
                        NamedProperty::new(
                            property_sets::PUBLIC_STRINGS,
                            PropName::Name("Keywords".to_owned()),
                        ),
                        PropType::MultiUnicode,
                    )?,
                    other => other
                        .property()
                        .map(Column::Prop)
                        .ok_or_else(|| unsupported(other.as_str()))?,
                }
            }
            PropertyPath::Indexed(indexed) => return Err(unsupported(&indexed.uri)),
            PropertyPath::Extended(extended) => match &extended.key {
                ExtendedKey::Tag(id) => Column::Prop(PropTag::new(*id, extended.prop_type)),
                ExtendedKey::Named(name) => {
                    named_column(request, name.clone(), extended.prop_type)?
                }
            },
        };
        if purpose == Purpose::Sort && column.prop_type().is_multi() {
            return Err(unsupported("a multi-valued property"));
        }
        Ok(column)
    }

    /// The type of the values this column yields.
    pub(crate) fn prop_type(&self) -> PropType {
        match self {
            Column::Prop(tag) => tag.prop_type(),
            Column::Importance | Column::Count(_) => PropType::Int32,
            Column::Flag(_) => PropType::Boolean,
            Column::Absent(prop_type) => *prop_type,
        }
    }

    /// The value in `row`, if it has one.
    pub(crate) fn value<'a>(&self, row: Row<'a>) -> Option<Cow<'a, PropValue>> {
        let props = row.props();
        match self {
            Column::Prop(tag) => match props.get(*tag) {
                Some(value) => Some(Cow::Borrowed(value)),
                // The store counts an item without flags as unread: the flags are zero.
                None if *tag == tags::MESSAGE_FLAGS => Some(Cow::Owned(PropValue::Int32(0))),
                None => None,
            },
            Column::Importance => Some(Cow::Owned(PropValue::Int32(
                props.int32(tags::IMPORTANCE).unwrap_or(NORMAL_IMPORTANCE),
            ))),
            Column::Flag(bit) => {
                let flags = props.int32(tags::MESSAGE_FLAGS).unwrap_or(0);
                Some(Cow::Owned(PropValue::Boolean(flags & bit != 0)))
            }
            Column::Count(count) => {
                let Row::Folder(folder) = row else {
                    return None;
                };
                let value = match count {
                    Count::Total => folder.total_count,
                    Count::Unread => folder.unread_count,
                    Count::ChildFolders => folder.child_folder_count,
                };
                Some(Cow::Owned(PropValue::Int32(
                    i32::try_from(value).unwrap_or(i32::MAX),
                )))
            }
            Column::Absent(_) => None,
        }
    }

    /// A `Constant Value` typed by this column (one element of an array type).
    fn constant(&self, text: &str) -> Result<PropValue, Error> {
        let invalid = || {
            Error::new(
                ResponseCode::ErrorInvalidValueForProperty,
                format!("{text:?} does not fit the property"),
            )
        };
        if *self == Column::Importance {
            return match text.trim() {
                "Low" => Ok(PropValue::Int32(0)),
                "Normal" => Ok(PropValue::Int32(NORMAL_IMPORTANCE)),
                "High" => Ok(PropValue::Int32(2)),
                _ => Err(invalid()),
            };
        }
        parse_value(element_type(self.prop_type()), &[text]).ok_or_else(invalid)
    }
}

fn named_column(
    request: &Request<'_>,
    name: NamedProperty,
    prop_type: PropType,
) -> Result<Column, Error> {
    let ids = request
        .ctx
        .store
        .named_property_ids(&request.mailbox, std::slice::from_ref(&name))?;
    Ok(match ids.first().copied().flatten() {
        Some(id) => Column::Prop(PropTag::new(id, prop_type)),
        None => Column::Absent(prop_type),
    })
}

/// The type of one element of an array type; a single-valued type is its own.
fn element_type(prop_type: PropType) -> PropType {
    match prop_type {
        PropType::MultiInt32 => PropType::Int32,
        PropType::MultiInt64 => PropType::Int64,
        PropType::MultiUnicode => PropType::Unicode,
        PropType::MultiBinary => PropType::Binary,
        single => single,
    }
}

/// A value viewed as one comparable scalar.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Int(i64),
    Double(f64),
    Bool(bool),
    Text(&'a str),
    Time(i64),
    Guid(u128),
    Bytes(&'a [u8]),
}

/// The scalars of a value: itself, or each element of an array.
enum Scalars<'a> {
    One(Option<Scalar<'a>>),
    Int32s(std::slice::Iter<'a, i32>),
    Int64s(std::slice::Iter<'a, i64>),
    Texts(std::slice::Iter<'a, String>),
    Bytes(std::slice::Iter<'a, Vec<u8>>),
}

impl<'a> Iterator for Scalars<'a> {
    type Item = Scalar<'a>;

    fn next(&mut self) -> Option<Scalar<'a>> {
        match self {
            Scalars::One(one) => one.take(),
            Scalars::Int32s(values) => values.next().map(|v| Scalar::Int(i64::from(*v))),
            Scalars::Int64s(values) => values.next().map(|v| Scalar::Int(*v)),
            Scalars::Texts(values) => values.next().map(|v| Scalar::Text(v)),
            Scalars::Bytes(values) => values.next().map(|v| Scalar::Bytes(v)),
        }
    }
}

fn scalars(value: &PropValue) -> Scalars<'_> {
    let one = |scalar| Scalars::One(Some(scalar));
    match value {
        PropValue::Int32(v) => one(Scalar::Int(i64::from(*v))),
        PropValue::Int64(v) => one(Scalar::Int(*v)),
        PropValue::Double(v) => one(Scalar::Double(*v)),
        PropValue::Boolean(v) => one(Scalar::Bool(*v)),
        PropValue::Unicode(v) => one(Scalar::Text(v)),
        PropValue::SystemTime(v) => one(Scalar::Time(v.0)),
        PropValue::Guid(v) => one(Scalar::Guid(v.0)),
        PropValue::Binary(v) => one(Scalar::Bytes(v)),
        PropValue::MultiInt32(v) => Scalars::Int32s(v.iter()),
        PropValue::MultiInt64(v) => Scalars::Int64s(v.iter()),
        PropValue::MultiUnicode(v) => Scalars::Texts(v.iter()),
        PropValue::MultiBinary(v) => Scalars::Bytes(v.iter()),
    }
}

/// Orders two scalars of one type; strings ignoring case. `None` across types.
fn order(a: Scalar<'_>, b: Scalar<'_>) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Int(a), Scalar::Int(b)) | (Scalar::Time(a), Scalar::Time(b)) => Some(a.cmp(&b)),
        (Scalar::Double(a), Scalar::Double(b)) => a.partial_cmp(&b),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(&b)),
        (Scalar::Text(a), Scalar::Text(b)) => Some(
            a.chars()
                .flat_map(char::to_lowercase)
                .cmp(b.chars().flat_map(char::to_lowercase)),
        ),
        (Scalar::Guid(a), Scalar::Guid(b)) => Some(a.cmp(&b)),
        (Scalar::Bytes(a), Scalar::Bytes(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Orders two single values for sorting: an absent value first, then by [`order`].
pub(crate) fn sort_order(a: Option<&PropValue>, b: Option<&PropValue>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => {
            let first = |v| scalars(v).next();
            match (first(a), first(b)) {
                (Some(a), Some(b)) => order(a, b).unwrap_or(Ordering::Equal),
                _ => Ordering::Equal,
            }
        }
    }
}

/// The relational operators (MS-OXWSSRCH TwoOperandExpressionType and its extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Relation {
    fn parse(name: &str) -> Option<Relation> {
        Some(match name {
            "IsEqualTo" => Relation::Equal,
            "IsNotEqualTo" => Relation::NotEqual,
            "IsGreaterThan" => Relation::Greater,
            "IsGreaterThanOrEqualTo" => Relation::GreaterOrEqual,
            "IsLessThan" => Relation::Less,
            "IsLessThanOrEqualTo" => Relation::LessOrEqual,
            _ => return None,
        })
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equal => ordering == Ordering::Equal,
            Relation::NotEqual => ordering != Ordering::Equal,
            Relation::Greater => ordering == Ordering::Greater,
            Relation::GreaterOrEqual => ordering != Ordering::Less,
            Relation::Less => ordering == Ordering::Less,
            Relation::LessOrEqual => ordering != Ordering::Greater,
        }
    }
}

/// `ContainmentMode` (MS-OXWSSRCH 2.2.5.2); absent means FullString, as MAPI's default fuzzy level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Containment {
    FullString,
    Prefixed,
    Substring,
    PrefixOnWords,
    ExactPhrase,
}

/// What `ContainmentComparison` (MS-OXWSSRCH 2.2.5.1) folds away before comparing. Absent means
/// Exact. The Loose variants are documented as "to be removed" without a definition; umbox folds
/// case and non-spacing marks for them, the loosest defined comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Folding {
    case: bool,
    marks: bool,
}

impl Folding {
    fn parse(name: Option<&str>) -> Option<Folding> {
        let (case, marks) = match name {
            None | Some("Exact") => (false, false),
            Some("IgnoreCase") => (true, false),
            Some("IgnoreNonSpacingCharacters") => (false, true),
            Some(
                "IgnoreCaseAndNonSpacingCharacters"
                | "Loose"
                | "LooseAndIgnoreCase"
                | "LooseAndIgnoreNonSpace"
                | "LooseAndIgnoreCaseAndIgnoreNonSpace",
            ) => (true, true),
            Some(_) => return None,
        };
        Some(Folding { case, marks })
    }

    fn apply(self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            let c = if self.marks {
                if is_combining_mark(c) {
                    continue;
                }
                base_letter(c)
            } else {
                c
            };
            if self.case {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// Combining diacritical marks (the blocks at U+0300, U+1AB0, U+1DC0, U+20D0 and U+FE20).
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// The base letter of a precomposed Latin letter with a diacritic (Latin-1 Supplement and
/// Latin Extended-A), so that "é" and "e" compare equal when non-spacing marks are ignored.
fn base_letter(c: char) -> char {
    const TABLE: &[(&str, char)] = &[
        ("ÀÁÂÃÄÅĀĂĄ", 'A'),
        ("àáâãäåāăą", 'a'),
        ("ÇĆĈĊČ", 'C'),
        ("çćĉċč", 'c'),
        ("ĎĐ", 'D'),
        ("ďđ", 'd'),
        ("ÈÉÊËĒĔĖĘĚ", 'E'),
        ("èéêëēĕėęě", 'e'),
        ("ĜĞĠĢ", 'G'),
        ("ĝğġģ", 'g'),
        ("ĤĦ", 'H'),
        ("ĥħ", 'h'),
        ("ÌÍÎÏĨĪĬĮİ", 'I'),
        ("ìíîïĩīĭįı", 'i'),
        ("Ĵ", 'J'),
        ("ĵ", 'j'),
        ("Ķ", 'K'),
        ("ķ", 'k'),
        ("ĹĻĽĿŁ", 'L'),
        ("ĺļľŀł", 'l'),
        ("ÑŃŅŇ", 'N'),
        ("ñńņň", 'n'),
        ("ÒÓÔÕÖØŌŎŐ", 'O'),
        ("òóôõöøōŏő", 'o'),
        ("ŔŖŘ", 'R'),
        ("ŕŗř", 'r'),
        ("ŚŜŞŠ", 'S'),
        ("śŝşš", 's'),
        ("ŢŤŦ", 'T'),
        ("ţťŧ", 't'),
        ("ÙÚÛÜŨŪŬŮŰŲ", 'U'),
        ("ùúûüũūŭůűų", 'u'),
        ("Ŵ", 'W'),
        ("ŵ", 'w'),
        ("ÝŶŸ", 'Y'),
        ("ýÿŷ", 'y'),
        ("ŹŻŽ", 'Z'),
        ("źżž", 'z'),
    ];
    if c.is_ascii() {
        return c;
    }
    TABLE
        .iter()
        .find(|(letters, _)| letters.contains(c))
        .map_or(c, |(_, base)| *base)
}

/// The right-hand side of a comparison (`t:FieldURIOrConstant`).
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Constant(PropValue),
    Column(Column),
}

/// One search expression.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Exists(Column),
    /// True when the value has none of the mask's bits.
    Excludes {
        column: Column,
        mask: i64,
    },
    Compare {
        column: Column,
        relation: Relation,
        operand: Operand,
    },
    /// `needle` is already folded.
    Contains {
        column: Column,
        needle: String,
        containment: Containment,
        folding: Folding,
    },
}

/// Why a restriction was refused: a schema violation fails the request, anything else fails each
/// response message.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A schema violation.
    Fault(Fault),
    /// A valid restriction umbox cannot evaluate, or a constant that does not fit.
    Error(ResponseCode, String),
}

impl From<Fault> for Refusal {
    fn from(fault: Fault) -> Refusal {
        Refusal::Fault(fault)
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        Refusal::Error(error.response_code(), error.to_string())
    }
}

/// A parsed `t:Restriction`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Restriction(Node);

impl Restriction {
    /// Parses `m:Restriction` for `target`.
    pub(crate) fn parse(
        request: &Request<'_>,
        restriction: &Element,
        target: Target,
    ) -> Result<Restriction, Refusal> {
        let mut children = restriction.children();
        let (Some(expression), None) = (children.next(), children.next()) else {
            return Err(Fault::schema("Restriction holds exactly one search expression").into());
        };
        let mut parser = Parser {
            request,
            target,
            nodes: 0,
        };
        Ok(Restriction(parser.node(expression)?))
    }

    /// Whether the restriction keeps exactly the unread items (`message:IsRead` equal to false,
    /// or not equal to true), which the store's unread indexes serve.
    pub(crate) fn is_unread_filter(&self) -> bool {
        let read = Column::Flag(tags::MSGFLAG_READ);
        matches!(&self.0, Node::Compare {
            column,
            relation: Relation::Equal,
            operand: Operand::Constant(PropValue::Boolean(false)),
        } | Node::Compare {
            column,
            relation: Relation::NotEqual,
            operand: Operand::Constant(PropValue::Boolean(true)),
        } if *column == read)
    }

    /// Whether `row` satisfies the restriction.
    pub(crate) fn matches(&self, row: Row<'_>) -> bool {
        evaluate(&self.0, row)
    }
}

struct Parser<'r, 'a> {
    request: &'r Request<'a>,
    target: Target,
    nodes: usize,
}

impl Parser<'_, '_> {
    fn node(&mut self, e: &Element) -> Result<Node, Refusal> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Refusal::Error(
                ResponseCode::ErrorRestrictionTooComplex,
                format!("a restriction may hold at most {MAX_NODES} search expressions"),
            ));
        }
        if e.namespace() != ns::EWS_TYPES {
            return Err(Fault::schema(format!("{} is not a search expression", e.name())).into());
        }
        let children: Vec<&Element> = e.children().collect();
        let name = e.name();
        match (name, children.as_slice()) {
            ("And" | "Or", [_, ..]) => {
                let nodes = children
                    .iter()
                    .map(|c| self.node(c))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if name == "And" {
                    Node::And(nodes)
                } else {
                    Node::Or(nodes)
                })
            }
            ("Not", [inner]) => Ok(Node::Not(Box::new(self.node(inner)?))),
            ("Exists", [path]) => Ok(Node::Exists(self.column(path)?)),
            ("Excludes", [path, bitmask]) if bitmask.is(ns::EWS_TYPES, "Bitmask") => {
                let column = self.column(path)?;
                if !matches!(column.prop_type(), PropType::Int32 | PropType::Int64) {
                    return Err(Refusal::Error(
                        ResponseCode::ErrorUnsupportedPathForQuery,
                        "Excludes applies only to integer properties".to_owned(),
                    ));
                }
                let text = bitmask.attribute("", "Value").unwrap_or_default().trim();
                let mask = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                    Some(hex) => i64::from_str_radix(hex, 16).ok(),
                    None => text.parse().ok(),
                }
                .ok_or_else(|| {
                    Refusal::Error(
                        ResponseCode::ErrorInvalidExcludesRestriction,
                        format!("Bitmask {text:?} is not a number"),
                    )
                })?;
                Ok(Node::Excludes { column, mask })
            }
            ("Contains", [path, constant]) if constant.is(ns::EWS_TYPES, "Constant") => {
                let column = self.column(path)?;
                if !matches!(
                    column.prop_type(),
                    PropType::Unicode | PropType::MultiUnicode
                ) {
                    return Err(Refusal::Error(
                        ResponseCode::ErrorUnsupportedPathForQuery,
                        "Contains applies only to string properties".to_owned(),
                    ));
                }
                let containment = match e.attribute("", "ContainmentMode") {
                    None | Some("FullString") => Containment::FullString,
                    Some("Prefixed") => Containment::Prefixed,
                    Some("Substring") => Containment::Substring,
                    Some("PrefixOnWords") => Containment::PrefixOnWords,
                    Some("ExactPhrase") => Containment::ExactPhrase,
                    Some(other) => {
                        return Err(Fault::schema(format!(
                            "ContainmentMode {other:?} is not valid"
                        ))
                        .into())
                    }
                };
                let comparison = e.attribute("", "ContainmentComparison");
                let folding = Folding::parse(comparison).ok_or_else(|| {
                    Fault::schema(format!("ContainmentComparison {comparison:?} is not valid"))
                })?;
                let needle = folding.apply(constant.attribute("", "Value").unwrap_or_default());
                Ok(Node::Contains {
                    column,
                    needle,
                    containment,
                    folding,
                })
            }
            (_, [path, right]) if right.is(ns::EWS_TYPES, "FieldURIOrConstant") => {
                let relation = Relation::parse(name)
                    .ok_or_else(|| Fault::schema(format!("{name} is not a search expression")))?;
                let column = self.column(path)?;
                let operand = self.operand(&column, right)?;
                Ok(Node::Compare {
                    column,
                    relation,
                    operand,
                })
            }
            _ => Err(Fault::schema(format!(
                "{name} is not a search expression with valid children"
            ))
            .into()),
        }
    }

    fn column(&self, path: &Element) -> Result<Column, Refusal> {
        let path = parse_path(path)?;
        Ok(Column::resolve(
            self.request,
            &path,
            self.target,
            Purpose::Query,
        )?)
    }

    fn operand(&self, left: &Column, right: &Element) -> Result<Operand, Refusal> {
        let mut children = right.children();
        let (Some(inner), None) = (children.next(), children.next()) else {
            return Err(Fault::schema("FieldURIOrConstant holds exactly one child").into());
        };
        if inner.is(ns::EWS_TYPES, "Constant") {
            return Ok(Operand::Constant(
                left.constant(inner.attribute("", "Value").unwrap_or_default())?,
            ));
        }
        let other = self.column(inner)?;
        // MAPI compares two properties only when their types match (SComparePropsRestriction).
        if element_type(other.prop_type()) != element_type(left.prop_type()) {
            return Err(Refusal::Error(
                ResponseCode::ErrorInvalidRestriction,
                "the two properties of a comparison have different types".to_owned(),
            ));
        }
        Ok(Operand::Column(other))
    }
}

fn evaluate(node: &Node, row: Row<'_>) -> bool {
    match node {
        Node::And(nodes) => nodes.iter().all(|n| evaluate(n, row)),
        Node::Or(nodes) => nodes.iter().any(|n| evaluate(n, row)),
        Node::Not(inner) => !evaluate(inner, row),
        Node::Exists(column) => column.value(row).is_some(),
        Node::Excludes { column, mask } => match column.value(row).as_deref() {
            Some(PropValue::Int32(v)) => i64::from(*v) & mask == 0,
            Some(PropValue::Int64(v)) => v & mask == 0,
            _ => false,
        },
        Node::Compare {
            column,
            relation,
            operand,
        } => {
            let right = match operand {
                Operand::Constant(value) => Some(Cow::Borrowed(value)),
                Operand::Column(other) => other.value(row),
            };
            compare(*relation, column.value(row).as_deref(), right.as_deref())
        }
        Node::Contains {
            column,
            needle,
            containment,
            folding,
        } => column.value(row).is_some_and(|value| {
            scalars(&value).any(|scalar| match scalar {
                Scalar::Text(text) => contains(&folding.apply(text), needle, *containment),
                _ => false,
            })
        }),
    }
}

/// MAPI leaves a comparison with an absent property undefined; umbox treats an absent value as
/// different from every value, so only IsNotEqualTo matches it. An array matches when any element
/// does (IsNotEqualTo: when no element is equal).
fn compare(relation: Relation, left: Option<&PropValue>, right: Option<&PropValue>) -> bool {
    let (Some(left), Some(right)) = (left, right) else {
        return relation == Relation::NotEqual;
    };
    let Some(right) = scalars(right).next() else {
        return relation == Relation::NotEqual;
    };
    if relation == Relation::NotEqual {
        return !scalars(left).any(|l| order(l, right) == Some(Ordering::Equal));
    }
    scalars(left).any(|l| order(l, right).is_some_and(|o| relation.holds(o)))
}

/// Whether folded `text` contains folded `needle` in the way `containment` asks.
fn contains(text: &str, needle: &str, containment: Containment) -> bool {
    match containment {
        Containment::FullString => text == needle,
        Containment::Prefixed => text.starts_with(needle),
        Containment::Substring => text.contains(needle),
        // Some word of the text starts with the constant.
        Containment::PrefixOnWords => word_starts(text).any(|start| {
            text.get(start..)
                .is_some_and(|rest| rest.starts_with(needle))
        }),
        // The constant's words appear in the text as consecutive whole words.
        Containment::ExactPhrase => {
            let phrase: Vec<&str> = words(needle).collect();
            let words: Vec<&str> = words(text).collect();
            !phrase.is_empty()
                && words
                    .windows(phrase.len())
                    .any(|window| window == phrase.as_slice())
        }
    }
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Byte offsets where a word begins.
fn word_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut previous_is_word = false;
    text.char_indices().filter_map(move |(at, c)| {
        let starts = c.is_alphanumeric() && !previous_is_word;
        previous_is_word = c.is_alphanumeric();
        starts.then_some(at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_compare_ignoring_case_and_absent_values_only_differ() {
        let a = PropValue::Unicode("Voice Mail".into());
        let b = PropValue::Unicode("voice mail".into());
        assert!(compare(Relation::Equal, Some(&a), Some(&b)));
        assert!(!compare(Relation::NotEqual, Some(&a), Some(&b)));
        assert!(compare(Relation::NotEqual, None, Some(&b)));
        assert!(!compare(Relation::Equal, None, Some(&b)));
        assert!(!compare(Relation::Less, None, Some(&b)));
        let multi = PropValue::MultiUnicode(vec!["Red".into(), "Blue".into()]);
        assert!(compare(
            Relation::Equal,
            Some(&multi),
            Some(&PropValue::Unicode("blue".into()))
        ));
        assert!(!compare(
            Relation::NotEqual,
            Some(&multi),
            Some(&PropValue::Unicode("blue".into()))
        ));
        assert!(compare(
            Relation::NotEqual,
            Some(&multi),
            Some(&PropValue::Unicode("green".into()))
        ));
        assert!(compare(
            Relation::Greater,
            Some(&PropValue::Int32(5)),
            Some(&PropValue::Int32(4))
        ));
        assert!(compare(
            Relation::LessOrEqual,
            Some(&PropValue::Int64(4)),
            Some(&PropValue::Int64(4))
        ));
    }

    #[test]
    fn containment_modes_and_foldings() {
        let fold = |name| Folding::parse(Some(name)).unwrap();
        let text = fold("IgnoreCase").apply("Voicemail from Zoë Ärger");
        assert!(contains(
            &text,
            &fold("IgnoreCase").apply("VOICEMAIL"),
            Containment::Prefixed
        ));
        assert!(!contains(&text, "mail", Containment::Prefixed));
        assert!(contains(&text, "mail", Containment::Substring));
        assert!(contains(&text, "zo", Containment::PrefixOnWords));
        assert!(!contains(&text, "oë", Containment::PrefixOnWords));
        assert!(contains(&text, "from zoë", Containment::ExactPhrase));
        assert!(!contains(&text, "from zo", Containment::ExactPhrase));
        assert!(!contains(&text, "voicemail", Containment::FullString));
        let loose = fold("IgnoreCaseAndNonSpacingCharacters");
        assert_eq!(loose.apply("Zoë Ärger e\u{301}"), "zoe arger e");
        assert_eq!(fold("Exact").apply("Zoë"), "Zoë");
        assert_eq!(
            Folding::parse(None),
            Some(Folding {
                case: false,
                marks: false
            })
        );
        assert_eq!(Folding::parse(Some("Sloppy")), None);
    }

    #[test]
    fn sorting_puts_absent_values_first() {
        let a = PropValue::Unicode("alpha".into());
        let b = PropValue::Unicode("Beta".into());
        assert_eq!(sort_order(None, Some(&a)), Ordering::Less);
        assert_eq!(sort_order(Some(&a), Some(&b)), Ordering::Less);
        assert_eq!(sort_order(Some(&b), Some(&a)), Ordering::Greater);
        assert_eq!(sort_order(None, None), Ordering::Equal);
    }
}
