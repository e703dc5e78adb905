//! PDF text through `pdf-extract`. Extraction of a damaged or exotic file can panic inside the
//! library; that is caught and reported as a skip so one bad PDF never stops an ingest run.

use crate::document::Document;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The text of a PDF as a document, or the reason it could not be read.
pub(crate) fn document(
    id: &str,
    source: &str,
    bytes: &[u8],
    stem: &str,
) -> Result<Document, String> {
    let extracted = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem(bytes)
    }))
    .map_err(|_| "unreadable PDF (the parser gave up on it)".to_owned())?
    .map_err(|e| format!("unreadable PDF: {e}"))?;
    let text = paragraphs(&extracted);
    if text.is_empty() {
        return Err("PDF has no extractable text (scanned images need OCR first)".into());
    }
    // The first short line of a PDF is nearly always its title.
    let title = text
        .lines()
        .next()
        .filter(|l| l.len() <= 120)
        .map_or_else(|| stem.to_owned(), str::to_owned);
    Ok(Document::new(id, title, source, text))
}

/// PDF extraction yields one line per printed line; blank lines separate paragraphs. Lines of one
/// paragraph are joined (with de-hyphenation) so the chunker sees whole paragraphs.
fn paragraphs(raw: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in raw.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if current.ends_with('-') {
            current.pop();
        } else if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.join("\n\n")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal one-page PDF showing `lines` in Helvetica, with a correct cross-reference table.
    pub(crate) fn tiny_pdf(lines: &[&str]) -> Vec<u8> {
        let mut content = String::from("BT /F1 12 Tf 72 720 Td 14 TL\n");
        for l in lines {
            content.push_str(&format!("({l}) Tj T*\n"));
        }
        content.push_str("ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        ];
        let mut pdf = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = pdf.len();
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for o in offsets {
            table.push_str(&format!("{o:010} 00000 n \n"));
        }
        pdf.extend_from_slice(table.as_bytes());
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        pdf
    }

    #[test]
    fn pdf_text_is_extracted_with_its_first_line_as_title() {
        let pdf = tiny_pdf(&[
            "Printer offline",
            "Power cycle the printer and reconnect it.",
        ]);
        let doc = document("p.pdf", "p.pdf", &pdf, "p").unwrap();
        assert!(doc.title.contains("Printer offline"), "{doc:?}");
        assert!(doc.text.contains("Power cycle the printer"), "{doc:?}");
    }

    #[test]
    fn a_damaged_pdf_is_a_reason_not_a_panic() {
        let err = document("x.pdf", "x.pdf", b"%PDF-1.4\ngarbage", "x").unwrap_err();
        assert!(err.starts_with("unreadable PDF"), "{err}");
    }

    #[test]
    fn wrapped_lines_join_into_paragraphs() {
        assert_eq!(
            paragraphs("a long para-\ngraph here\n\nnext"),
            "a long paragraph here\n\nnext"
        );
    }
}
