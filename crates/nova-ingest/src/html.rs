//! HTML pages: boilerplate (scripts, styles, navigation, headers, footers, sidebars, forms) is dropped,
//! the main content (`<main>` or `<article>` when the page has one) is turned into the Markdown-ish text
//! the chunker reads: headings become `#` lines, list items `- ` or `1. ` lines, and `<pre>` blocks keep
//! their line breaks.

use crate::document::Document;
use ego_tree::NodeRef;
use scraper::{Html, Node, Selector};

/// Elements whose whole subtree is page furniture, not content.
const BOILERPLATE: [&str; 14] = [
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "svg", "iframe", "select", "head",
];

/// Elements that end a paragraph.
const BLOCKS: [&str; 16] = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "table",
    "tr",
    "blockquote",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "br",
];

/// An HTML document; `None` if the page has no text once boilerplate is removed.
pub(crate) fn document(id: &str, source: &str, html: &str) -> Option<Document> {
    let page = Html::parse_document(html);
    let root = ["main", "article", "[role=main]", "body"]
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .find_map(|s| page.select(&s).next())
        .map_or_else(|| *page.root_element(), |e| *e);
    let mut out = Writer::default();
    out.walk(root);
    out.end_block();
    let text = out.blocks.join("\n\n");
    if text.trim().is_empty() {
        return None;
    }
    let title = Selector::parse("title")
        .ok()
        .and_then(|s| page.select(&s).next())
        .map(|t| normalise(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            out.blocks
                .iter()
                .find_map(|b| b.strip_prefix("# ").map(str::to_owned))
        })
        .unwrap_or_else(|| id.to_owned());
    Some(Document::new(id, title, source, text))
}

/// Collapses runs of whitespace to one space.
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Default)]
struct Writer {
    blocks: Vec<String>,
    line: String,
    /// Open lists: `Some(n)` counts items of an ordered list, `None` is a bullet list.
    lists: Vec<Option<usize>>,
}

impl Writer {
    fn end_block(&mut self) {
        let line = normalise(&self.line);
        if !line.is_empty() {
            self.blocks.push(line);
        }
        self.line.clear();
    }

    fn walk(&mut self, node: NodeRef<'_, Node>) {
        match node.value() {
            Node::Text(t) => self.line.push_str(t),
            Node::Element(e) => {
                let name = e.name();
                let hidden = e.attr("aria-hidden") == Some("true")
                    || e.attr("hidden").is_some()
                    || matches!(
                        e.attr("role"),
                        Some("navigation" | "banner" | "contentinfo")
                    );
                if BOILERPLATE.contains(&name) || hidden {
                    return;
                }
                self.element(name, node);
            }
            _ => {}
        }
    }

    fn element(&mut self, name: &str, node: NodeRef<'_, Node>) {
        let children = |w: &mut Self| node.children().for_each(|c| w.walk(c));
        if let Some(level) = heading_level(name) {
            self.end_block();
            children(self);
            let text = normalise(&self.line);
            self.line.clear();
            if !text.is_empty() {
                self.blocks.push(format!("{} {text}", "#".repeat(level)));
            }
        } else if name == "pre" {
            self.end_block();
            let code: String = node
                .descendants()
                .filter_map(|d| d.value().as_text().map(|t| t.to_string()))
                .collect();
            // Blank lines inside code would split it into paragraphs; keep the block whole.
            let code: Vec<&str> = code.lines().filter(|l| !l.trim().is_empty()).collect();
            if !code.is_empty() {
                self.blocks.push(format!("```\n{}\n```", code.join("\n")));
            }
        } else if name == "li" {
            self.end_block();
            let marker = match self.lists.last_mut() {
                Some(Some(n)) => {
                    *n += 1;
                    format!("{n}. ")
                }
                _ => "- ".to_owned(),
            };
            self.line.push_str(&marker);
            children(self);
            self.end_block();
        } else if name == "ul" || name == "ol" {
            self.end_block();
            self.lists.push((name == "ol").then_some(0));
            children(self);
            self.lists.pop();
            self.end_block();
        } else if BLOCKS.contains(&name) || name == "td" || name == "th" {
            if name == "td" || name == "th" {
                self.line.push(' ');
            } else {
                self.end_block();
            }
            children(self);
            if name != "td" && name != "th" {
                self.end_block();
            }
        } else {
            children(self);
        }
    }
}

fn heading_level(name: &str) -> Option<usize> {
    let level = name.strip_prefix('h')?.parse::<usize>().ok()?;
    (1..=6).contains(&level).then_some(level)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html><head><title>Fix VPN drops</title>
<style>body{color:red}</style><script>var tracking = 1;</script></head>
<body><nav><a href="/">Home</a> | <a href="/kb">KB</a></nav>
<header>Acme Support Portal</header>
<main><h1>VPN drops after sleep</h1>
<p>The tunnel closes when the laptop <b>sleeps</b>.</p>
<h2>Resolution</h2>
<ol><li>Open the adapter settings.</li><li>Disable power saving.</li></ol>
<pre>nmcli con down vpn

nmcli con up vpn</pre>
</main><footer>© Acme</footer></body></html>"#;

    #[test]
    fn html_keeps_headings_lists_and_code_and_drops_boilerplate() {
        let doc = document("vpn.html", "vpn.html", PAGE).unwrap();
        assert_eq!(doc.title, "Fix VPN drops");
        assert_eq!(
            doc.text,
            "# VPN drops after sleep\n\nThe tunnel closes when the laptop sleeps.\n\n## Resolution\n\n\
             1. Open the adapter settings.\n\n2. Disable power saving.\n\n\
             ```\nnmcli con down vpn\nnmcli con up vpn\n```"
        );
        for junk in ["tracking", "Home", "Portal", "©", "color"] {
            assert!(!doc.text.contains(junk), "{junk} leaked into {}", doc.text);
        }
    }

    #[test]
    fn a_page_of_only_boilerplate_has_no_document() {
        assert!(document(
            "x.html",
            "x.html",
            "<html><body><nav>menu</nav></body></html>"
        )
        .is_none());
    }
}
