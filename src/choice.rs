//! Closed sets of named values (a report format, a gate): each value has one name, the same on
//! the command line, in the environment, in a config file and in a report, and one line of help.

/// A closed set of named values.
pub trait Choice: Copy + PartialEq + Send + Sync + 'static {
    /// Every value with its name and its help, in the order `--help` lists them.
    const ALL: &'static [(Self, &'static str, &'static str)];

    fn name(self) -> &'static str {
        let entry = Self::ALL.iter().find(|(value, ..)| *value == self);
        entry.map_or("", |&(_, name, _)| name)
    }

    /// The value of that name, or an error that lists the names.
    fn named(name: &str) -> Result<Self, String> {
        match Self::ALL.iter().find(|(_, n, _)| *n == name) {
            Some(&(value, ..)) => Ok(value),
            None => {
                let names: Vec<&str> = Self::ALL.iter().map(|&(_, n, _)| n).collect();
                Err(format!("{name:?} is not one of: {}", names.join(", ")))
            }
        }
    }
}

/// Defines an enum whose variants are documented by their help, and its [`Choice`] names.
macro_rules! choice_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal: $help:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        pub enum $name { $(#[doc = $help] $(#[$vmeta])* $variant),+ }
        impl $crate::choice::Choice for $name {
            const ALL: &'static [(Self, &'static str, &'static str)] =
                &[$(($name::$variant, $text, $help)),+];
        }
    };
}
pub(crate) use choice_enum;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::FailOn;

    #[test]
    fn a_choice_is_found_by_its_name_and_a_wrong_name_lists_the_right_ones() {
        assert_eq!(FailOn::named("never"), Ok(FailOn::Never));
        assert_eq!(FailOn::Never.name(), "never");
        assert_eq!(
            FailOn::named("sometimes").unwrap_err(),
            "\"sometimes\" is not one of: needs-mounts, needs-changes, never"
        );
    }
}
