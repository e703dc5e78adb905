//! Suggested steps, extracted from matched passages without a language model: numbered list items,
//! bullet items and commands in sections headed like a fix ("Solution", "Resolution", "Fix",
//! "Workaround", "Steps", …), and imperative sentences there ("Restart the …", "Set …").

use serde::Serialize;

/// Headings whose sections hold the fix.
const FIX_HEADINGS: [&str; 10] = [
    "solution",
    "resolution",
    "fix",
    "workaround",
    "steps",
    "how to",
    "remediation",
    "resolve",
    "mitigation",
    "repair",
];

/// Verbs that start an instruction.
const IMPERATIVES: [&str; 48] = [
    "add",
    "allow",
    "apply",
    "change",
    "check",
    "clear",
    "click",
    "configure",
    "confirm",
    "contact",
    "create",
    "delete",
    "disable",
    "enable",
    "ensure",
    "flush",
    "go",
    "increase",
    "install",
    "kill",
    "lower",
    "make",
    "move",
    "open",
    "raise",
    "reboot",
    "reconnect",
    "reduce",
    "reinstall",
    "reload",
    "remove",
    "renew",
    "replace",
    "reset",
    "restart",
    "restore",
    "roll",
    "rotate",
    "run",
    "select",
    "set",
    "sign",
    "start",
    "stop",
    "try",
    "unlock",
    "update",
    "use",
];

/// One suggested step and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The instruction, as written in the source.
    pub text: String,
    /// Section path of the passage it was taken from.
    pub section: Vec<String>,
}

/// Whether a heading path ends in a section that describes a fix.
pub fn is_fix_section(headings: &[String]) -> bool {
    headings.last().is_some_and(|h| {
        let h = h.to_lowercase();
        FIX_HEADINGS.iter().any(|f| h.contains(f))
    })
}

/// Steps in a passage. In a fix section every list item and command counts, plus imperative
/// sentences; elsewhere only numbered items (a numbered list is a procedure wherever it stands).
pub fn extract(text: &str, headings: &[String]) -> Vec<Step> {
    let fix = is_fix_section(headings);
    let step = |t: &str| Step {
        text: t.trim().to_owned(),
        section: headings.to_vec(),
    };
    let mut steps = Vec::new();
    let mut in_code = false;
    let mut code = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("```") {
            if in_code && fix && !code.is_empty() {
                steps.push(step(&format!("Run: `{}`", code.join("; "))));
            }
            in_code = !in_code;
            code.clear();
            continue;
        }
        if in_code {
            if !line.is_empty() {
                code.push(line.to_owned());
            }
            continue;
        }
        if let Some(item) = numbered_item(line) {
            steps.push(step(item));
        } else if let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            if fix {
                steps.push(step(item));
            }
        } else if fix {
            steps.extend(sentences(line).filter(|s| is_imperative(s)).map(step));
        }
    }
    steps
}

/// `1. Do this` / `2) Do that` → the item text.
fn numbered_item(line: &str) -> Option<&str> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let rest = &line[digits..];
    let rest = rest
        .strip_prefix(". ")
        .or_else(|| rest.strip_prefix(") "))?;
    (!rest.trim().is_empty()).then_some(rest)
}

fn sentences(line: &str) -> impl Iterator<Item = &str> {
    line.split_inclusive(". ")
        .map(str::trim)
        .filter(|s| s.len() > 8)
}

fn is_imperative(sentence: &str) -> bool {
    let first = sentence
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_matches(|c: char| !c.is_alphabetic())
        .to_lowercase();
    IMPERATIVES.contains(&first.as_str())
}

/// Lower-case alphanumerics only, for spotting the same step said twice.
pub fn normalised(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(path: &[&str]) -> Vec<String> {
        path.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn numbered_items_bullets_commands_and_imperatives_in_a_fix_section() {
        let text = "1. Read the logs: `kubectl logs POD --previous`.\n2) Describe the pod.\n\
                    - Disable power saving.\nThe gateway drops idle tunnels. Restart the client afterwards.\n\
                    ```\nsystemctl reload nginx\n```";
        let got: Vec<String> = extract(text, &h(&["VPN", "Resolution"]))
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(
            got,
            [
                "Read the logs: `kubectl logs POD --previous`.",
                "Describe the pod.",
                "Disable power saving.",
                "Restart the client afterwards.",
                "Run: `systemctl reload nginx`",
            ]
        );
    }

    #[test]
    fn outside_fix_sections_only_numbered_procedures_count() {
        let text = "- The app exits on start.\nCheck nothing here.\n1. Open the settings.";
        let got: Vec<String> = extract(text, &h(&["Causes"]))
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(got, ["Open the settings."]);
    }

    #[test]
    fn version_numbers_are_not_list_items() {
        assert_eq!(numbered_item("2026. Release notes"), None);
        assert_eq!(numbered_item("3.14 is pi"), None);
        assert_eq!(numbered_item("12. Lower the MTU"), Some("Lower the MTU"));
    }
}
