//! The prompt as the model was trained to see it: the GGUF's `tokenizer.chat_template` (Jinja, as in
//! Hugging Face's `apply_chat_template`) rendered with minijinja, Python string methods included.
//! A model without a template gets ChatML, the most common format.

use crate::error::{GenerateError, Result};
use crate::ChatMessage;
use minijinja::{context, Environment, Error, ErrorKind};

/// ChatML, for GGUFs that carry no template.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// A compiled chat template.
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
}

impl ChatTemplate {
    /// Compiles `source` (or ChatML when `None`).
    pub(crate) fn new(source: Option<&str>) -> Result<Self> {
        let mut env = Environment::new();
        // Templates call Python methods (`.strip()`, `.startswith()`) and HF's `raise_exception`.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned("chat", source.unwrap_or(CHATML).to_owned())
            .map_err(GenerateError::Template)?;
        Ok(Self { env })
    }

    /// The prompt for `messages`, ending where the assistant's reply begins.
    pub(crate) fn render(&self, messages: &[ChatMessage], bos: &str, eos: &str) -> Result<String> {
        let messages: Vec<_> = messages
            .iter()
            .map(|m| context! { role => m.role.as_str(), content => m.content.as_str() })
            .collect();
        self.env
            .get_template("chat")
            .and_then(|t| {
                t.render(context! {
                    messages => messages,
                    add_generation_prompt => true,
                    bos_token => bos,
                    eos_token => eos,
                })
            })
            .map_err(GenerateError::Template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChatRole;

    #[test]
    fn renders_chatml_and_python_methods() {
        let t = ChatTemplate::new(None).unwrap();
        let out = t
            .render(&[ChatMessage::new(ChatRole::User, "hi")], "", "")
            .unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
        let t = ChatTemplate::new(Some(
            "{{ bos_token }}{% for m in messages %}{{ m['content'].strip() | upper }}{% endfor %}",
        ))
        .unwrap();
        let out = t
            .render(&[ChatMessage::new(ChatRole::User, "  x  ")], "<s>", "")
            .unwrap();
        assert_eq!(out, "<s>X");
        let t = ChatTemplate::new(Some("{{ raise_exception('no system role') }}")).unwrap();
        assert!(t.render(&[], "", "").is_err());
    }
}
