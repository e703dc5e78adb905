//! Markdown and plain text: the body is kept as written (the chunker understands `#` headings and blank
//! lines). An optional front-matter block sets metadata:
//!
//! ```text
//! ---
//! title: VPN drops after sleep
//! tags: [vpn, network]
//! acl: support, sre
//! product: Acme VPN
//! ---
//! ```

use crate::document::{split_list, Document};
use std::path::Path;

/// A text document; the title is front matter's `title`, else the first `# ` heading, else the stem.
pub(crate) fn document(id: &str, source: &str, text: &str, path: &Path) -> Document {
    let (meta, body) = front_matter(text);
    let title = body
        .lines()
        .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_owned()))
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut doc = Document::new(id, title, source, body);
    for (key, value) in meta {
        match key.as_str() {
            "title" => doc.title = value,
            "kind" => doc.kind = value,
            "tags" => doc.tags = split_list(&value),
            "acl" => doc.acl = split_list(&value),
            _ => {
                doc.fields.insert(key, value);
            }
        }
    }
    doc
}

/// `---` … `---` at the very top as `key: value` lines; anything else means there is no front matter.
fn front_matter(text: &str) -> (Vec<(String, String)>, &str) {
    let none = (Vec::new(), text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return none;
    };
    let Some(end) = rest.find("\n---") else {
        return none;
    };
    let mut pairs = Vec::new();
    for line in rest[..end].lines().filter(|l| !l.trim().is_empty()) {
        let Some((k, v)) = line.split_once(':') else {
            return none; // not a simple key: value block, so treat it as text
        };
        let value = v.trim().trim_matches(['"', '\'']).to_owned();
        pairs.push((k.trim().to_lowercase(), value));
    }
    let body = rest[end + 4..].trim_start_matches(['-', '\r', '\n']);
    (pairs, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_sets_title_tags_acl_and_fields() {
        let doc = document(
            "a.md",
            "a.md",
            "---\ntitle: VPN drops\ntags: [vpn, network]\nacl: support; sre\nproduct: \"Acme VPN\"\n---\n# Heading\n\nBody.",
            Path::new("a.md"),
        );
        assert_eq!(doc.title, "VPN drops");
        assert_eq!(doc.tags, ["vpn", "network"]);
        assert_eq!(doc.acl, ["support", "sre"]);
        assert_eq!(
            doc.fields.get("product").map(String::as_str),
            Some("Acme VPN")
        );
        assert_eq!(doc.text, "# Heading\n\nBody.");
    }

    #[test]
    fn a_horizontal_rule_is_not_front_matter() {
        let text = "---\nJust a rule and prose.\n\nMore prose\n---\n";
        let doc = document("b.md", "b.md", text, Path::new("notes/b.md"));
        assert_eq!(doc.text, text);
        assert_eq!(doc.title, "b");
    }
}
