//! A field a caller sent that is not valid, named by its path in the
//! request. Every layer reports bad input this way; the API answers it as
//! problem+json, the console beside the form field, the CLI as a line.

use serde::Serialize;
use utoipa::ToSchema;

/// One field that is not valid.
#[derive(Clone, Debug, Serialize, PartialEq, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `to[3].webhook_url`, or a
    /// header or query parameter name.
    pub field: String,
    pub message: String,
    /// Index in `to` of the recipient the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<usize>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            recipient: None,
        }
    }

    pub fn for_recipient(mut self, index: usize) -> Self {
        self.recipient = Some(index);
        self
    }
}

/// Names every field that is not valid (`field: message`), the first few
/// in full, so the detail alone says what to change.
pub fn invalid_detail(errors: &[FieldError]) -> String {
    const LISTED: usize = 5;
    let each = |e: &FieldError| format!("{}: {}", e.field, e.message);
    match errors {
        [] => "the request is not valid".to_string(),
        [one] => each(one),
        _ => {
            let mut s = format!(
                "{} fields are not valid: {}",
                errors.len(),
                errors
                    .iter()
                    .take(LISTED)
                    .map(each)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if errors.len() > LISTED {
                s.push_str(&format!(
                    "; and {} more (see `errors`)",
                    errors.len() - LISTED
                ));
            }
            s
        }
    }
}
