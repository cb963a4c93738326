//! XML for every SOAP and POX surface (Autodiscover, EWS, push notifications): a hardened reader
//! that turns a request body into a small element tree, and the one writer through which all XML
//! output goes.
//!
//! Never builds XML by hand outside [`Writer`], never resolves a DTD or an entity beyond the five
//! predefined ones and character references, never reads or writes anything but memory.
//!
//! Entry points: [`parse`] (bytes to [`Element`]), [`Writer`] (events to bytes), [`ns`] (namespace
//! URIs), [`Namespace`] (a URI with the prefix we write it under).
//!
//! # Why a tree
//! Protocol requests are small (the HTTP layer caps the body), are validated as a whole before any
//! work starts, and are looked at by many operations in many orders (SOAP headers after the body,
//! repeated children, optional elements anywhere). A light owned tree built once by a single
//! hardened loop keeps every limit and every well-formedness rule in one place, and lets each
//! operation match on `(namespace, local name)` without re-implementing a pull parser's state
//! machine. The cost is bounded: at most [`Limits::max_elements`] elements, each holding only its
//! names, attributes and text, so memory stays proportional to the (already capped) input.
//!
//! # Hardening
//! SOAP 1.1 and Autodiscover forbid DTDs, so any `<!DOCTYPE` is an error ([`Error::Dtd`]): no
//! billion-laughs expansion, no external entity, no quadratic blow-up can start. Only `&lt; &gt;
//! &amp; &apos; &quot;` and character references are resolved; every other entity reference is
//! undeclared and therefore not well-formed. Depth, element count, attributes per element and
//! in-scope namespace declarations are capped ([`Limits`]), which also bounds the work of
//! namespace resolution. End tags must match, there must be exactly one root element, and only
//! whitespace, comments and processing instructions may surround it.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::NsReader;

/// Namespace URIs used by the protocol surfaces.
pub mod ns {
    /// SOAP 1.1 envelope.
    pub const SOAP_ENVELOPE: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    /// XML Schema instance (`xsi:type`, `xsi:nil`).
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    /// WS-Addressing 1.0 (`Action`, `To`, `MessageID` headers).
    pub const WS_ADDRESSING: &str = "http://www.w3.org/2005/08/addressing";
    /// Autodiscover SOAP messages and types (MS-OXDSCLI).
    pub const AUTODISCOVER: &str = "http://schemas.microsoft.com/exchange/2010/Autodiscover";
    /// Outer `Autodiscover` element of every POX response.
    pub const AUTODISCOVER_RESPONSE: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
    /// POX request from Outlook-style clients.
    pub const OUTLOOK_REQUEST: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
    /// POX response for Outlook-style clients (the `2006a` schema).
    pub const OUTLOOK_RESPONSE: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
    /// POX request from ActiveSync devices.
    pub const MOBILESYNC_REQUEST: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006";
    /// POX response for ActiveSync devices.
    pub const MOBILESYNC_RESPONSE: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006";
    /// EWS messages (`m:`).
    pub const EWS_MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
    /// EWS types (`t:`).
    pub const EWS_TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
    /// EWS fault details (`e:`).
    pub const EWS_ERRORS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";
}

/// Errors from reading or writing XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document carries a document type declaration, which SOAP and Autodiscover forbid.
    #[error("document type declarations are not allowed (byte {position})")]
    Dtd {
        /// Byte offset of the declaration.
        position: u64,
    },
    /// The document is not well-formed XML (or not namespace-well-formed).
    #[error("not well-formed XML at byte {position}: {reason}")]
    Syntax {
        /// Byte offset where the problem was noticed.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// Elements are nested deeper than [`Limits::max_depth`].
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More elements than [`Limits::max_elements`].
    #[error("more than {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },
    /// An element with more attributes than [`Limits::max_attributes`].
    #[error("an element has more than {limit} attributes")]
    TooManyAttributes {
        /// The limit.
        limit: usize,
    },
    /// More namespace declarations in scope than [`Limits::max_namespace_declarations`].
    #[error("more than {limit} namespace declarations in scope")]
    TooManyNamespaces {
        /// The limit.
        limit: usize,
    },
    /// The [`Writer`] was driven wrongly (a bug in the caller, never caused by a request).
    #[error("xml writer misuse: {reason}")]
    Write {
        /// What was wrong.
        reason: &'static str,
    },
}

/// Caps applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting (the root is depth 1).
    pub max_depth: usize,
    /// Most elements in the document.
    pub max_elements: usize,
    /// Most attributes on one element, namespace declarations included.
    pub max_attributes: usize,
    /// Most namespace declarations in scope at any point.
    pub max_namespace_declarations: usize,
}

impl Limits {
    /// Generous for any SOAP request a client sends, small enough to bound work and memory.
    pub const DEFAULT: Limits = Limits {
        max_depth: 64,
        max_elements: 100_000,
        max_attributes: 64,
        max_namespace_declarations: 256,
    };
}

/// An attribute after namespace resolution; namespace declarations are not attributes here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attr {
    namespace: String,
    name: String,
    value: String,
}

/// An element after namespace resolution, with its attributes, child elements and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    namespace: String,
    name: String,
    attributes: Vec<Attr>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    /// The namespace URI; empty when the element is in no namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The local name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is `{namespace}name`.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.name == name && self.namespace == namespace
    }

    /// The value of attribute `{namespace}name` (namespace `""` for an unprefixed attribute),
    /// entities resolved and white space normalised (XML 1.0 §3.3.3).
    pub fn attribute(&self, namespace: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name && a.namespace == namespace)
            .map(|a| a.value.as_str())
    }

    /// All character data directly inside this element, entities resolved, in document order.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// [`Element::text`] without leading and trailing XML white space.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim_matches(is_xml_space)
    }

    /// The child elements in document order.
    pub fn children(&self) -> std::slice::Iter<'_, Element> {
        self.children.iter()
    }
}

/// XML white space (XML 1.0 production S).
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Whether `c` may appear in an XML 1.0 document (production Char). Rust strings hold no
/// surrogates, so only the control characters and the two non-characters remain to exclude.
fn is_xml_char(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\r'
            | '\u{20}'..='\u{D7FF}'
            | '\u{E000}'..='\u{FFFD}'
            | '\u{10000}'..='\u{10FFFF}'
    )
}

/// Parses a whole document into its root element, enforcing `limits` and the rules in the module
/// documentation. The input must be UTF-8 (all our clients send it).
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, Error> {
    let mut reader = NsReader::from_reader(input);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    config.trim_text(false);
    // quick-xml enforces our cap on the bindings in scope while it reads a start tag, before
    // any of its attributes are kept; its error is reported as ours below.
    reader
        .resolver_mut()
        .set_max_namespace_bindings(limits.max_namespace_declarations);

    let mut tree = TreeBuilder::new(limits);
    let mut first_event = true;
    loop {
        let position = reader.buffer_position();
        let syntax = |reason: String| Error::Syntax { position, reason };
        let (resolved, event) = match reader.read_resolved_event() {
            Ok(next) => next,
            Err(quick_xml::Error::Namespace(quick_xml::name::NamespaceError::TooManyBindings(
                _,
            ))) => {
                return Err(Error::TooManyNamespaces {
                    limit: limits.max_namespace_declarations,
                });
            }
            Err(e) => {
                let position = reader.error_position();
                return Err(Error::Syntax {
                    position,
                    reason: e.to_string(),
                });
            }
        };
        let namespace = namespace_of(resolved, position)?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                // Limits first, so an oversized document costs no attribute work.
                tree.admit(position)?;
                let (attributes, declarations) = read_attributes(&reader, start, limits, position)?;
                let name = start.local_name().into_inner().to_owned();
                let element = Element {
                    namespace,
                    name,
                    attributes,
                    children: Vec::new(),
                    text: String::new(),
                };
                tree.open(element, declarations)?;
                if matches!(event, Event::Empty(_)) {
                    tree.close(position)?;
                }
            }
            // quick-xml has already checked that the name matches the open tag.
            Event::End(_) => tree.close(position)?,
            Event::Text(text) => {
                let content = text.xml10_content();
                tree.character_data(&content, true, position)?;
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                tree.character_data(&content, false, position)?;
            }
            Event::GeneralRef(reference) => {
                let name: &str = &reference;
                let mut buf = [0u8; 4];
                let replacement: &str = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.encode_utf8(&mut buf),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(name)
                        .ok_or_else(|| syntax(format!("undeclared entity &{name};")))?,
                    Err(e) => return Err(syntax(e.to_string())),
                };
                tree.character_data(replacement, false, position)?;
            }
            Event::DocType(_) => return Err(Error::Dtd { position }),
            Event::Decl(_) if !first_event => {
                return Err(syntax("an XML declaration after the start".to_owned()));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return tree.finish(position),
        }
        first_event = false;
    }
}

/// The namespace URI a name resolved to; an undeclared prefix is not namespace-well-formed.
fn namespace_of(resolved: ResolveResult<'_>, position: u64) -> Result<String, Error> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(ns.into_inner().to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(Error::Syntax {
            position,
            reason: format!("undeclared namespace prefix {prefix:?}"),
        }),
    }
}

/// Assembles the tree from parse events and keeps the counts the limits apply to.
struct TreeBuilder<'l> {
    limits: &'l Limits,
    /// Elements whose end tag has not been read yet, outermost first.
    open: Vec<Open>,
    root: Option<Element>,
    elements: usize,
    declarations_in_scope: usize,
}

/// An element whose end tag has not been read yet.
struct Open {
    element: Element,
    /// Namespace declarations it made, released when it closes.
    declarations: usize,
}

impl<'l> TreeBuilder<'l> {
    fn new(limits: &'l Limits) -> TreeBuilder<'l> {
        TreeBuilder {
            limits,
            open: Vec::new(),
            root: None,
            elements: 0,
            declarations_in_scope: 0,
        }
    }

    /// Checks that one more element may start here.
    fn admit(&mut self, position: u64) -> Result<(), Error> {
        if self.root.is_some() {
            return Err(Error::Syntax {
                position,
                reason: "a second root element".to_owned(),
            });
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(Error::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(Error::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    fn open(&mut self, element: Element, declarations: usize) -> Result<(), Error> {
        self.declarations_in_scope += declarations;
        if self.declarations_in_scope > self.limits.max_namespace_declarations {
            return Err(Error::TooManyNamespaces {
                limit: self.limits.max_namespace_declarations,
            });
        }
        self.open.push(Open {
            element,
            declarations,
        });
        Ok(())
    }

    /// Closes the innermost element and hangs it under its parent, or makes it the root.
    fn close(&mut self, position: u64) -> Result<(), Error> {
        let Some(done) = self.open.pop() else {
            return Err(Error::Syntax {
                position,
                reason: "an end tag without a start tag".to_owned(),
            });
        };
        self.declarations_in_scope -= done.declarations;
        match self.open.last_mut() {
            Some(parent) => parent.element.children.push(done.element),
            None => self.root = Some(done.element),
        }
        Ok(())
    }

    /// Appends character data to the open element. Outside the root element only white space
    /// written as plain text is allowed (not CDATA, not references).
    fn character_data(&mut self, text: &str, plain: bool, position: u64) -> Result<(), Error> {
        let syntax = |reason: String| Error::Syntax { position, reason };
        if let Some(bad) = text.chars().find(|c| !is_xml_char(*c)) {
            return Err(syntax(format!(
                "character U+{:04X} is not allowed",
                u32::from(bad)
            )));
        }
        match self.open.last_mut() {
            Some(current) => current.element.text.push_str(text),
            None if plain && text.chars().all(is_xml_space) => {}
            None => return Err(syntax("character data outside the root element".to_owned())),
        }
        Ok(())
    }

    fn finish(self, position: u64) -> Result<Element, Error> {
        if !self.open.is_empty() {
            return Err(Error::Syntax {
                position,
                reason: "unclosed elements".to_owned(),
            });
        }
        self.root.ok_or(Error::Syntax {
            position,
            reason: "no root element".to_owned(),
        })
    }
}

/// Resolves the attributes of a start tag; returns them and how many namespace declarations it
/// made.
fn read_attributes(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    limits: &Limits,
    position: u64,
) -> Result<(Vec<Attr>, usize), Error> {
    let syntax = |reason: String| Error::Syntax { position, reason };
    let mut attributes = Vec::new();
    let mut declarations = 0usize;
    // Duplicate checks in quick-xml are quadratic in the attribute count; the cap bounds them.
    for (count, attribute) in start.attributes().with_checks(true).enumerate() {
        if count >= limits.max_attributes {
            return Err(Error::TooManyAttributes {
                limit: limits.max_attributes,
            });
        }
        let attribute = attribute.map_err(|e| syntax(e.to_string()))?;
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            declarations += 1;
            continue;
        }
        let (resolved, local) = reader.resolver().resolve_attribute(key);
        let namespace = match resolved {
            ResolveResult::Bound(ns) => ns.into_inner().to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(syntax(format!("undeclared namespace prefix {prefix:?}")))
            }
        };
        let raw: &str = &attribute.value;
        if raw.contains('<') {
            return Err(syntax("'<' in an attribute value".to_owned()));
        }
        // XML 1.0 §3.3.3: literal white space becomes a space before references are expanded.
        let normalised: Cow<'_, str> = if raw.contains(['\t', '\n', '\r']) {
            Cow::Owned(raw.replace(['\t', '\n', '\r'], " "))
        } else {
            Cow::Borrowed(raw)
        };
        let value = quick_xml::escape::unescape(&normalised).map_err(|e| syntax(e.to_string()))?;
        if let Some(bad) = value.chars().find(|c| !is_xml_char(*c)) {
            return Err(syntax(format!(
                "character U+{:04X} is not allowed",
                u32::from(bad)
            )));
        }
        attributes.push(Attr {
            namespace,
            name: local.into_inner().to_owned(),
            value: value.into_owned(),
        });
    }
    Ok((attributes, declarations))
}

/// A namespace as umbox writes it: the URI and the prefix bound to it (`""` for the default
/// namespace, or for no namespace at all when the URI is empty too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespace {
    /// The prefix; empty for the default namespace.
    pub prefix: &'static str,
    /// The URI; empty for "no namespace".
    pub uri: &'static str,
}

impl Namespace {
    /// Unqualified names, such as the children of a SOAP 1.1 `Fault`.
    pub const NONE: Namespace = Namespace {
        prefix: "",
        uri: "",
    };

    /// `uri` written under `prefix`.
    pub const fn new(prefix: &'static str, uri: &'static str) -> Namespace {
        Namespace { prefix, uri }
    }
}

/// An element being written whose end tag is still due.
struct OpenTag {
    namespace: Namespace,
    local: &'static str,
    /// Length of the binding stack before this element declared anything.
    bindings_before: usize,
}

/// Writes a document into a caller-owned buffer. Every name comes from a [`Namespace`] whose
/// prefix must be declared ([`Writer::declare`]) on that element or an ancestor, and every text
/// and attribute value is escaped; characters XML cannot carry become U+FFFD.
///
/// Calls chain and never fail on their own: the first misuse (an attribute after content, an end
/// without a start, an undeclared prefix) is remembered, later calls do nothing, and
/// [`Writer::finish`] reports it.
pub struct Writer<'b> {
    inner: quick_xml::Writer<&'b mut Vec<u8>>,
    open: Vec<OpenTag>,
    /// In-scope prefix bindings, innermost last.
    bindings: Vec<Namespace>,
    /// The start tag being assembled, written out when content or the end follows.
    pending: Option<BytesStart<'static>>,
    /// Namespaces used by the pending tag and its attributes, checked once its declarations are
    /// known.
    pending_uses: Vec<Namespace>,
    /// Whether the root element has been closed.
    root_closed: bool,
    error: Option<&'static str>,
}

impl<'b> Writer<'b> {
    /// Clears `buffer` and starts a document with an XML declaration.
    pub fn new(buffer: &'b mut Vec<u8>) -> Writer<'b> {
        let mut writer = Writer::without_declaration(buffer);
        writer.error = writer
            .inner
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
            .err()
            .map(|_| "cannot write");
        writer
    }

    /// Clears `buffer` and starts a document with no XML declaration: for documents that follow
    /// another in one stream (EWS streaming notifications) and markup embedded elsewhere (the
    /// XHTML body of a voice message).
    pub fn without_declaration(buffer: &'b mut Vec<u8>) -> Writer<'b> {
        buffer.clear();
        let inner = quick_xml::Writer::new(buffer);
        let error = None;
        Writer {
            inner,
            open: Vec::new(),
            bindings: Vec::new(),
            pending: None,
            pending_uses: Vec::new(),
            root_closed: false,
            error,
        }
    }

    /// Opens element `{namespace}local`.
    pub fn start(&mut self, namespace: Namespace, local: &'static str) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        self.flush();
        if self.root_closed {
            return self.fail("a second root element");
        }
        self.open.push(OpenTag {
            namespace,
            local,
            bindings_before: self.bindings.len(),
        });
        self.pending = Some(BytesStart::from_content(
            qualified(namespace.prefix, local),
            qualified_len(namespace.prefix, local),
        ));
        self.pending_uses.push(namespace);
        self
    }

    /// Declares `namespace` on the element just opened.
    pub fn declare(&mut self, namespace: Namespace) -> &mut Self {
        let Some(pending) = self.pending.as_mut() else {
            return self.fail("a namespace declaration after content");
        };
        let key = if namespace.prefix.is_empty() {
            Cow::Borrowed("xmlns")
        } else {
            qualified("xmlns", namespace.prefix)
        };
        pending.push_attribute(Attribute {
            key: QName(&key),
            value: escape(namespace.uri, true),
        });
        self.bindings.push(namespace);
        self
    }

    /// Adds the unprefixed attribute `local="value"` to the element just opened.
    pub fn attribute(&mut self, local: &'static str, value: &str) -> &mut Self {
        self.attribute_ns(Namespace::NONE, local, value)
    }

    /// Adds attribute `{namespace}local="value"` to the element just opened.
    pub fn attribute_ns(
        &mut self,
        namespace: Namespace,
        local: &'static str,
        value: &str,
    ) -> &mut Self {
        if namespace.prefix.is_empty() && !namespace.uri.is_empty() {
            return self.fail("an attribute cannot use the default namespace");
        }
        let Some(pending) = self.pending.as_mut() else {
            return self.fail("an attribute after content");
        };
        let key = qualified(namespace.prefix, local);
        pending.push_attribute(Attribute {
            key: QName(&key),
            value: escape(value, true),
        });
        // An unprefixed attribute is in no namespace whatever the default namespace is.
        if !namespace.prefix.is_empty() {
            self.pending_uses.push(namespace);
        }
        self
    }

    /// Writes escaped character data into the open element.
    pub fn text(&mut self, text: &str) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        if self.open.is_empty() {
            return self.fail("text outside the root element");
        }
        // Empty text leaves the start tag pending, so the element is written as `<x/>`.
        if !text.is_empty() {
            self.flush();
            let escaped = escape(text, false);
            self.emit(Event::Text(BytesText::from_escaped(escaped)));
        }
        self
    }

    /// Closes the innermost open element (`<x/>` when it has no content).
    pub fn end(&mut self) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        let Some(tag) = self.open.pop() else {
            return self.fail("an end tag without a start tag");
        };
        if let Some(start) = self.pending.take() {
            if self.check_pending_uses() {
                self.emit(Event::Empty(start));
            }
        } else {
            self.emit(Event::End(BytesEnd::new(qualified(
                tag.namespace.prefix,
                tag.local,
            ))));
        }
        self.bindings.truncate(tag.bindings_before);
        self.root_closed = self.open.is_empty();
        self
    }

    /// `<local>text</local>` in `namespace`.
    pub fn leaf(&mut self, namespace: Namespace, local: &'static str, text: &str) -> &mut Self {
        self.start(namespace, local).text(text).end()
    }

    /// Checks that the document is complete and no call was misused.
    pub fn finish(mut self) -> Result<(), Error> {
        if self.error.is_none() && (!self.open.is_empty() || self.pending.is_some()) {
            self.error = Some("unclosed elements");
        }
        match self.error {
            Some(reason) => Err(Error::Write { reason }),
            None => Ok(()),
        }
    }

    /// Writes the pending start tag, if any, once its declarations are complete.
    fn flush(&mut self) {
        if let Some(start) = self.pending.take() {
            if self.check_pending_uses() {
                self.emit(Event::Start(start));
            }
        }
    }

    /// Every prefix the pending tag uses must be bound to the same URI in scope.
    fn check_pending_uses(&mut self) -> bool {
        let bindings = &self.bindings;
        let all_bound = self.pending_uses.iter().all(|used| {
            match bindings.iter().rev().find(|b| same(b.prefix, used.prefix)) {
                Some(bound) => same(bound.uri, used.uri),
                // Nothing binds the default namespace: unqualified names are in no namespace.
                None => used.prefix.is_empty() && used.uri.is_empty(),
            }
        });
        self.pending_uses.clear();
        if !all_bound {
            self.fail("a prefix that is not declared for its namespace");
        }
        all_bound
    }

    fn emit(&mut self, event: Event<'_>) {
        if self.inner.write_event(event).is_err() {
            self.fail("cannot write");
        }
    }

    fn fail(&mut self, reason: &'static str) -> &mut Self {
        self.error.get_or_insert(reason);
        self
    }
}

/// `prefix:local`, or `local` alone when the prefix is empty.
/// String equality that first tries the pointers: names and URIs come from the same `'static`
/// constants, so the common case costs no byte comparison (profiling showed this check on every
/// element as the single largest cost of rendering an Autodiscover answer).
fn same(a: &'static str, b: &'static str) -> bool {
    std::ptr::eq(a, b) || a == b
}

fn qualified(prefix: &str, local: &'static str) -> Cow<'static, str> {
    if prefix.is_empty() {
        Cow::Borrowed(local)
    } else {
        Cow::Owned([prefix, ":", local].concat())
    }
}

fn qualified_len(prefix: &str, local: &str) -> usize {
    if prefix.is_empty() {
        local.len()
    } else {
        prefix.len() + 1 + local.len()
    }
}

/// Escapes markup characters; in attributes also quotes and white space other than the space, so
/// they survive attribute-value normalisation. A lone `\r` in text is written as a reference
/// because a parser would turn it into `\n`. Characters outside XML's Char production become
/// U+FFFD.
fn escape(raw: &str, in_attribute: bool) -> Cow<'_, str> {
    let needs = |c: char| {
        matches!(c, '&' | '<' | '>' | '\r')
            || (in_attribute && matches!(c, '"' | '\'' | '\t' | '\n'))
            || !is_xml_char(c)
    };
    // Almost every value is plain ASCII with nothing to escape: decide that on bytes first.
    let plain_byte = |b: u8| match b {
        b'&' | b'<' | b'>' | b'\r' => false,
        b'"' | b'\'' | b'\t' | b'\n' => !in_attribute,
        0x20..=0x7E => true,
        _ => false,
    };
    if raw.bytes().all(plain_byte) || !raw.chars().any(needs) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '\t' if in_attribute => out.push_str("&#x9;"),
            '\n' if in_attribute => out.push_str("&#xA;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_default(input: &str) -> Result<Element, Error> {
        parse(input.as_bytes(), &Limits::DEFAULT)
    }

    #[test]
    fn resolves_namespaces_text_and_attributes() {
        let doc = parse_default(
            r#"<?xml version="1.0" encoding="utf-8"?>
            <!-- leading comment -->
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
                        xmlns="urn:d" xmlns:x="urn:x">
              <s:Body><Op x:flag="a&amp;b&#x9;c" plain=" 1
2 ">fish &amp; chips &lt;&#65;&gt;<![CDATA[<raw>]]></Op><x:Other/></s:Body>
            </s:Envelope>"#,
        )
        .unwrap();
        assert!(doc.is(ns::SOAP_ENVELOPE, "Envelope"));
        let body = doc.children().next().unwrap();
        assert!(body.is(ns::SOAP_ENVELOPE, "Body"));
        let mut ops = body.children();
        let op = ops.next().unwrap();
        assert!(op.is("urn:d", "Op"));
        assert_eq!(op.text(), "fish & chips <A><raw>");
        assert_eq!(op.attribute("urn:x", "flag"), Some("a&b\tc"));
        assert_eq!(op.attribute("", "plain"), Some(" 1 2 "));
        assert_eq!(
            op.attribute("urn:d", "plain"),
            None,
            "unprefixed attributes are in no namespace"
        );
        assert!(ops.next().unwrap().is("urn:x", "Other"));
        assert_eq!(doc.trimmed_text(), "");
    }

    #[test]
    fn rejects_any_doctype() {
        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"#;
        assert!(matches!(parse_default(laughs), Err(Error::Dtd { .. })));
        let external = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert!(matches!(parse_default(external), Err(Error::Dtd { .. })));
        let bare = r#"<!DOCTYPE r SYSTEM "http://example.test/r.dtd"><r/>"#;
        assert!(matches!(parse_default(bare), Err(Error::Dtd { .. })));
    }

    #[test]
    fn undeclared_entities_are_not_expanded() {
        assert!(matches!(
            parse_default("<r>&xxe;</r>"),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(
            parse_default("<r a='&xxe;'/>"),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(
            parse_default("<r>&#0;</r>"),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(
            parse_default("<r>&#x1;</r>"),
            Err(Error::Syntax { .. })
        ));
    }

    #[test]
    fn caps_depth_elements_attributes_and_namespaces() {
        let deep = "<a>".repeat(65) + &"</a>".repeat(65);
        assert_eq!(parse_default(&deep), Err(Error::TooDeep { limit: 64 }));
        let ok = "<a>".repeat(64) + &"</a>".repeat(64);
        parse_default(&ok).unwrap();

        let small = Limits {
            max_elements: 10,
            ..Limits::DEFAULT
        };
        let wide = format!("<r>{}</r>", "<e/>".repeat(10));
        assert_eq!(
            parse(wide.as_bytes(), &small),
            Err(Error::TooManyElements { limit: 10 })
        );

        let attributes: String = (0..65).map(|i| format!(" a{i}='x'")).collect();
        assert_eq!(
            parse_default(&format!("<r{attributes}/>")),
            Err(Error::TooManyAttributes { limit: 64 })
        );

        let declarations: String = (0..60).map(|i| format!(" xmlns:p{i}='urn:{i}'")).collect();
        let open: String = ["a", "b", "c", "d"]
            .iter()
            .map(|n| format!("<{n}{declarations}>"))
            .collect();
        let nested = format!("{open}<e{declarations}/></d></c></b></a>");
        assert_eq!(
            parse_default(&nested),
            Err(Error::TooManyNamespaces { limit: 256 })
        );
        let siblings = format!("<r>{}</r>", format!("<a{declarations}/>").repeat(5));
        parse_default(&siblings).unwrap();
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "",
            "   ",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a/>trailing",
            "text<a/>",
            "<a></a></a>",
            "<p:a/>",
            "<a p:x='1'/>",
            "<a x='1' x='2'/>",
            "<a x='<'/>",
            "<a>\u{1}</a>",
            "<a/><?xml version='1.0'?>",
            "<a><!-- bad -- comment --></a>",
            "<a>&amp</a>",
        ] {
            assert!(
                matches!(parse_default(bad), Err(Error::Syntax { .. })),
                "{bad:?} was accepted"
            );
        }
        assert!(parse(b"<a>\xff</a>", &Limits::DEFAULT).is_err());
    }

    #[test]
    fn accepts_a_byte_order_mark_but_no_late_declaration() {
        parse(
            "\u{FEFF}<?xml version='1.0'?><a/>".as_bytes(),
            &Limits::DEFAULT,
        )
        .unwrap();
        assert!(matches!(
            parse_default("<!-- c --><?xml version='1.0'?><a/>"),
            Err(Error::Syntax { .. })
        ));
    }

    #[test]
    fn wrong_namespace_is_visible() {
        let doc =
            parse_default("<Envelope xmlns='http://www.w3.org/2003/05/soap-envelope'/>").unwrap();
        assert!(!doc.is(ns::SOAP_ENVELOPE, "Envelope"));
        assert_eq!(doc.namespace(), "http://www.w3.org/2003/05/soap-envelope");
        assert_eq!(doc.name(), "Envelope");
    }

    const S: Namespace = Namespace::new("s", ns::SOAP_ENVELOPE);
    const A: Namespace = Namespace::new("", ns::AUTODISCOVER);
    const I: Namespace = Namespace::new("i", ns::XSI);

    #[test]
    fn writes_namespaced_escaped_documents_that_parse_back() {
        let mut buf = b"old content".to_vec();
        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope").declare(S).declare(I);
        w.start(S, "Body")
            .start(A, "Message")
            .declare(A)
            .attribute("Note", "a\"b'<&>\t\n\rc");
        w.start(A, "Value")
            .attribute_ns(I, "type", "StringSetting")
            .text("x < y & \u{1} ]]> \r")
            .end();
        w.start(A, "Empty").attribute_ns(I, "nil", "true").end();
        w.start(Namespace::NONE, "faultcode")
            .declare(Namespace::new("", ""))
            .text("s:Client")
            .end();
        w.end().end().end();
        w.finish().unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"<?xml version="1.0" encoding="utf-8"?>"#,
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" "#,
                r#"xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><s:Body>"#,
                r#"<Message xmlns="http://schemas.microsoft.com/exchange/2010/Autodiscover" "#,
                r#"Note="a&quot;b&apos;&lt;&amp;&gt;&#x9;&#xA;&#xD;c">"#,
                "<Value i:type=\"StringSetting\">x &lt; y &amp; \u{FFFD} ]]&gt; &#xD;</Value>",
                r#"<Empty i:nil="true"/><faultcode xmlns="">s:Client</faultcode>"#,
                "</Message></s:Body></s:Envelope>"
            )
        );
        let doc = parse(&buf, &Limits::DEFAULT).unwrap();
        let message = doc.children().next().unwrap().children().next().unwrap();
        assert_eq!(message.attribute("", "Note"), Some("a\"b'<&>\t\n\rc"));
        let value = message.children().next().unwrap();
        assert_eq!(value.text(), "x < y & \u{FFFD} ]]> \r");
        assert_eq!(value.attribute(ns::XSI, "type"), Some("StringSetting"));
        assert!(message.children().nth(2).unwrap().is("", "faultcode"));
    }

    #[test]
    fn writer_misuse_is_reported_not_panicked() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope").end();
        assert_eq!(
            w.finish(),
            Err(Error::Write {
                reason: "a prefix that is not declared for its namespace"
            })
        );

        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope")
            .declare(S)
            .text("x")
            .attribute("late", "1")
            .end();
        assert_eq!(
            w.finish(),
            Err(Error::Write {
                reason: "an attribute after content"
            })
        );

        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope").declare(S).end().end();
        assert_eq!(
            w.finish(),
            Err(Error::Write {
                reason: "an end tag without a start tag"
            })
        );

        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope").declare(S);
        assert_eq!(
            w.finish(),
            Err(Error::Write {
                reason: "unclosed elements"
            })
        );

        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope").declare(S).end().start(S, "Envelope");
        assert_eq!(
            w.finish(),
            Err(Error::Write {
                reason: "a second root element"
            })
        );

        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope")
            .declare(S)
            .start(A, "Body")
            .end()
            .end();
        assert_eq!(
            w.finish(),
            Err(Error::Write {
                reason: "a prefix that is not declared for its namespace"
            })
        );

        let mut w = Writer::new(&mut buf);
        w.start(S, "Envelope")
            .declare(S)
            .attribute_ns(A, "x", "1")
            .end();
        assert_eq!(
            w.finish(),
            Err(Error::Write {
                reason: "an attribute cannot use the default namespace"
            })
        );
    }
}
