//! What a notification is (its category) and how urgent it is (its
//! priority): the keys of preferences, caps and quiet hours, and the order
//! workers claim deliveries in.

super::word::word! {
    /// A notification's category.
    Category {
        Transactional = "transactional",
        Marketing = "marketing",
        Auth = "auth",
    }
}

super::word::word! {
    /// A notification's priority, most urgent first.
    Priority {
        High = "high",
        Normal = "normal",
        Low = "low",
    }
}

impl Priority {
    /// The stored rank: 0 is claimed first.
    pub const fn rank(self) -> i64 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }

    /// The priority of a stored rank; an unknown rank reads as `normal`.
    pub fn from_rank(rank: i64) -> Priority {
        match rank {
            0 => Priority::High,
            2 => Priority::Low,
            _ => Priority::Normal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_and_priorities_parse_what_they_write() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Ok(*c));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Ok(*p));
            assert_eq!(Priority::from_rank(p.rank()), *p);
        }
        assert_eq!(
            Category::parse("spam").unwrap_err(),
            "must be one of transactional, marketing, auth"
        );
        assert_eq!(
            Priority::parse("urgent").unwrap_err(),
            "must be one of high, normal, low"
        );
        assert_eq!(Priority::from_rank(7), Priority::Normal);
    }
}
