//! Rates and caps as written in config and templates: `"50/s"`,
//! `"3000/min"`, `"5/1d"`, `"1/10min"`.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// Parses `<count>/<period>`; the period is a unit (`s`, `min`, `h`,
    /// `d`) optionally preceded by a number (`10min`, `1d`).
    pub fn parse(s: &str) -> Result<Rate, String> {
        let err = || format!("{s:?} is not a rate; write it like 50/s, 3000/min, 5/1d or 1/10min");
        let (count, period) = s.trim().split_once('/').ok_or_else(err)?;
        let count: u32 = count.trim().parse().map_err(|_| err())?;
        let period = period.trim();
        let digits: String = period.chars().take_while(|c| c.is_ascii_digit()).collect();
        let n: u64 = if digits.is_empty() {
            1
        } else {
            digits.parse().map_err(|_| err())?
        };
        let unit = match &period[digits.len()..] {
            "ms" => Duration::from_millis(1),
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            _ => return Err(err()),
        };
        if count == 0 || n == 0 {
            return Err(err());
        }
        Ok(Rate {
            count,
            per: unit * n as u32,
        })
    }

    /// The steady spacing between events at this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_every_written_form() {
        for (text, count, secs) in [
            ("50/s", 50, 1),
            ("3000/min", 3000, 60),
            ("5/1d", 5, 86_400),
            ("1/10min", 1, 600),
        ] {
            let per = Duration::from_secs(secs);
            assert_eq!(Rate::parse(text), Ok(Rate { count, per }), "{text}");
        }
        assert_eq!(
            Rate::parse("20/s").unwrap().interval(),
            Duration::from_millis(50)
        );
        for bad in ["", "50", "x/s", "0/s", "5/fortnight", "5/0s"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}
