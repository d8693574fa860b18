//! A small, safe XML tree for CAMT: built with quick-xml, refusing any DOCTYPE (so no entity
//! expansion and no external entities), resolving only the predefined and character references,
//! with limits on depth and size. Elements are known by their local name, so any namespace (or
//! none) reads the same.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::{Location, StatementError};

/// Deeper nesting than this is refused (CAMT needs about 12).
const MAX_DEPTH: usize = 64;

/// An element's index in its document.
pub type NodeId = usize;

#[derive(Debug)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<NodeId>,
    parent: Option<NodeId>,
    line: usize,
}

/// A parsed XML document.
#[derive(Debug)]
pub struct Dom {
    nodes: Vec<Node>,
}

fn local(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_owned(),
        None => name.into_owned(),
    }
}

fn resolve_reference(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse().ok()?
        };
        return char::from_u32(code);
    }
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

impl Dom {
    /// Parses `text` (already decoded to UTF-8).
    pub fn parse(text: &str) -> Result<Self, StatementError> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<NodeId> = Vec::new();
        let mut line = 1usize;
        let mut counted_to = 0usize;
        let mut root_closed = false;
        loop {
            let event = reader.read_event();
            let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let upto = pos.min(text.len());
            if upto > counted_to {
                line += newlines(&text.as_bytes()[counted_to..upto]);
                counted_to = upto;
            }
            let here = || Location::Line(line);
            match event {
                Err(e) => {
                    return Err(StatementError::at(
                        here(),
                        format!("not well-formed XML: {e}"),
                    ));
                }
                Ok(Event::DocType(_)) => return Err(StatementError::DoctypeRefused { at: here() }),
                Ok(Event::Start(e)) => {
                    if root_closed {
                        return Err(StatementError::at(here(), "a second root element"));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(StatementError::at(here(), "elements nested too deeply"));
                    }
                    let id = push(&mut nodes, &stack, &e, line);
                    stack.push(id);
                }
                Ok(Event::Empty(e)) => {
                    if root_closed {
                        return Err(StatementError::at(here(), "a second root element"));
                    }
                    push(&mut nodes, &stack, &e, line);
                    if stack.is_empty() {
                        root_closed = true;
                    }
                }
                Ok(Event::End(_)) => {
                    stack.pop();
                    if stack.is_empty() {
                        root_closed = true;
                    }
                }
                Ok(Event::Text(t)) => {
                    let t = t.into_inner();
                    if let Some(&top) = stack.last() {
                        nodes[top].text.push_str(&t);
                    } else if !t.trim().is_empty() {
                        return Err(StatementError::at(here(), "text outside the root element"));
                    }
                }
                Ok(Event::CData(t)) => {
                    if let Some(&top) = stack.last() {
                        nodes[top].text.push_str(&t.into_inner());
                    }
                }
                Ok(Event::GeneralRef(r)) => {
                    let name = r.into_inner().into_owned();
                    let Some(c) = resolve_reference(&name) else {
                        return Err(StatementError::at(
                            here(),
                            format!("undefined entity &{name}; (entities are not allowed)"),
                        ));
                    };
                    if let Some(&top) = stack.last() {
                        nodes[top].text.push(c);
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
            }
        }
        if !stack.is_empty() {
            return Err(StatementError::at(
                Location::Line(line),
                "the document ends before its elements are closed",
            ));
        }
        if nodes.is_empty() {
            return Err(StatementError::at(Location::File, "no XML element"));
        }
        Ok(Self { nodes })
    }

    /// The root element.
    pub const fn root() -> NodeId {
        0
    }

    /// The element's local name.
    pub fn name(&self, id: NodeId) -> &str {
        &self.nodes[id].name
    }

    /// The element's text, trimmed.
    pub fn text(&self, id: NodeId) -> &str {
        self.nodes[id].text.trim()
    }

    /// An attribute's value by local name.
    pub fn attr(&self, id: NodeId, name: &str) -> Option<&str> {
        self.nodes[id]
            .attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The children named `name`.
    pub fn children<'a>(&'a self, id: NodeId, name: &'a str) -> impl Iterator<Item = NodeId> + 'a {
        self.nodes[id]
            .children
            .iter()
            .copied()
            .filter(move |c| self.nodes[*c].name == name)
    }

    /// All children.
    pub fn all_children(&self, id: NodeId) -> &[NodeId] {
        &self.nodes[id].children
    }

    /// The first child named `name`.
    pub fn child(&self, id: NodeId, name: &str) -> Option<NodeId> {
        self.children(id, name).next()
    }

    /// The first element down the path of names.
    pub fn find(&self, id: NodeId, path: &[&str]) -> Option<NodeId> {
        path.iter().try_fold(id, |at, name| self.child(at, name))
    }

    /// The non-empty text at the path.
    pub fn text_at(&self, id: NodeId, path: &[&str]) -> Option<String> {
        self.find(id, path)
            .map(|n| self.text(n))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }

    /// Where the element is: its path from the root and its line.
    pub fn location(&self, id: NodeId) -> Location {
        let mut parts = Vec::new();
        let mut at = Some(id);
        while let Some(n) = at {
            let node = &self.nodes[n];
            let part = match node.parent {
                Some(p) => {
                    let same: Vec<NodeId> = self.children(p, &node.name).collect();
                    if same.len() > 1 {
                        let index = same.iter().position(|s| *s == n).unwrap_or(0) + 1;
                        format!("{}[{index}]", node.name)
                    } else {
                        node.name.clone()
                    }
                }
                None => node.name.clone(),
            };
            parts.push(part);
            at = node.parent;
        }
        parts.reverse();
        Location::Element {
            path: parts.join("/"),
            line: self.nodes[id].line,
        }
    }
}

/// The line breaks in `bytes` (a byte range, which may end inside a character on an error).
#[expect(
    clippy::naive_bytecount,
    reason = "a dependency for counting newlines is not worth it"
)]
fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn push(
    nodes: &mut Vec<Node>,
    stack: &[NodeId],
    e: &quick_xml::events::BytesStart<'_>,
    line: usize,
) -> NodeId {
    let attrs = e
        .attributes()
        .flatten()
        .map(|a| {
            (
                local(a.key.into_inner().as_bytes()),
                a.value.clone().into_owned(),
            )
        })
        .collect();
    let id = nodes.len();
    let parent = stack.last().copied();
    nodes.push(Node {
        name: local(e.name().into_inner().as_bytes()),
        attrs,
        text: String::new(),
        children: Vec::new(),
        parent,
        line,
    });
    if let Some(p) = parent {
        nodes[p].children.push(id);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doctype_is_refused_before_any_entity_is_expanded() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><Document>&lol2;</Document>"#;
        assert!(matches!(
            Dom::parse(bomb),
            Err(StatementError::DoctypeRefused { .. })
        ));
        let external = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>"#;
        assert!(matches!(
            Dom::parse(external),
            Err(StatementError::DoctypeRefused { .. })
        ));
    }

    #[test]
    fn an_undeclared_entity_is_an_error_and_predefined_ones_are_read() {
        assert!(Dom::parse("<d>&x;</d>").is_err());
        let dom = Dom::parse("<a:d xmlns:a=\"u\"><e>A &amp; B &#x41;</e></a:d>").unwrap();
        let e = dom.child(Dom::root(), "e").unwrap();
        assert_eq!(dom.text(e), "A & B A");
        assert_eq!(dom.name(Dom::root()), "d");
    }

    #[test]
    fn an_unclosed_document_names_its_line() {
        let err = Dom::parse("<d>\n<e>\n").unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
    }
}
