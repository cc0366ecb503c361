//! What a service operation can answer besides success, in the service's
//! own words. Each front end maps these once: the API to problem+json
//! (`http::error`), the console to a page, the CLI to a message and an
//! exit code. Store errors that mean "the database can't now" stay
//! distinguishable from faults, so every front end can say "try later".

use crate::domain::FieldError;
use crate::store::{StoreError, Unavailable};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not valid; each field says why.
    #[error("the request is not valid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    /// It can't be done in the thing's present state.
    #[error("{0}")]
    Conflict(String),
    /// No credential, or one that is not (or no longer) valid.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid credential without the permission.
    #[error("{0}")]
    Forbidden(String),
    /// Over the caller's request rate: try again after this many seconds.
    #[error("too many requests; retry after {0} s")]
    TooManyRequests(u64),
    /// The database can't do it now (disk full, not answering).
    #[error("the database is unavailable")]
    Unavailable(Unavailable),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError::new(field, message)])
    }

    /// For work done on the caller's behalf later (a workflow's step, a
    /// schedule's firing): what the input was refused for, as a reason to
    /// record (`Ok`), or a failure to try again after (`Err`: the database
    /// did not answer, say).
    pub fn refusal(self) -> std::result::Result<String, anyhow::Error> {
        match self {
            e @ (Error::Invalid(_) | Error::NotFound(_) | Error::Conflict(_)) => Ok(e.detail()),
            e => Err(anyhow::anyhow!("{e}")),
        }
    }

    /// What went wrong, for a person: each field that is not valid by
    /// name, else the message.
    pub fn detail(&self) -> String {
        match self {
            Error::Invalid(errors) => crate::domain::field::invalid_detail(errors),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e.unavailable() {
            Some(kind) => {
                tracing::warn!(error = %e, "refused: the database is unavailable");
                Error::Unavailable(kind)
            }
            None => Error::Internal(e.into()),
        }
    }
}
