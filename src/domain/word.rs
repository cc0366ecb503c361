//! The shape every closed set of words in missive shares: an enum whose
//! variants are written one way (`as_str`, a `const fn`, so constants
//! elsewhere can be derived from it) and read one way (`parse`, whose
//! error names the allowed values). One macro, so the seven sets can't
//! drift apart in how they parse, print or list themselves.

/// Declares `enum $name { $variant = "$text", ... }` with `ALL`,
/// `as_str`, `parse`, `names`, `join` and `Display`.
macro_rules! word {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order the API lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and shown spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value spelt `s`; the error names the allowed values.
            pub fn parse(s: &str) -> Result<$name, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", $name::names())),
                }
            }

            /// The allowed spellings, comma separated, for messages.
            pub fn names() -> String {
                $name::join($name::ALL)
            }

            /// `values` spelt and comma separated, for messages.
            pub fn join(values: &[$name]) -> String {
                values
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use word;
