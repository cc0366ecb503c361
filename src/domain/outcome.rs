//! How one send attempt ended, as a channel reports it and the retry
//! schedule and metrics read it (the README's table of channels).

super::word::word! {
    /// How an attempt ended.
    Outcome {
        Ok = "ok",
        /// Worth trying again later.
        Transient = "transient",
        /// Will never work as it is.
        Permanent = "permanent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_parse_what_they_write() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Ok(*o));
        }
        assert_eq!(
            Outcome::parse("maybe").unwrap_err(),
            "must be one of ok, transient, permanent"
        );
    }
}
