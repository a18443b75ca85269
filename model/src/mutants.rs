//! The `mutants!` macro: one declaration per protocol of its planted bugs (the `Mutant` enum),
//! with each mutant's CLI name, spec ID, the property that must catch it and one sentence
//! about the bug, plus `ALL`, `FromStr` (an unknown name lists the known ones) and `Display`.

/// Declare a protocol's `Mutant` enum. Each entry is
/// `/// doc` `Variant => ("cli-name", "SpecId", "caught_by_property", "what the bug is"),`.
macro_rules! mutants {
    (protocol $protocol:literal; $( $(#[$attr:meta])* $variant:ident => ($name:literal, $id:literal, $caught:literal, $doc:literal $(,)?) ),+ $(,)?) => {
        /// A deliberate bug planted in the protocol. The suite asserts that each is caught by
        /// its named property with a shortest counterexample.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Mutant {
            $( $(#[$attr])* $variant, )+
        }

        impl Mutant {
            /// Every mutant, in spec order.
            pub const ALL: [Mutant; [$($name),+].len()] = [$(Mutant::$variant),+];

            /// The CLI name.
            pub fn name(self) -> &'static str {
                match self { $(Mutant::$variant => $name,)+ }
            }

            /// The spec ID.
            pub fn spec_id(self) -> &'static str {
                match self { $(Mutant::$variant => $id,)+ }
            }

            /// The property that must catch it.
            pub fn caught_by(self) -> &'static str {
                match self { $(Mutant::$variant => $caught,)+ }
            }

            /// One sentence describing the bug.
            pub fn doc(self) -> &'static str {
                match self { $(Mutant::$variant => $doc,)+ }
            }
        }

        impl std::str::FromStr for Mutant {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Mutant::ALL
                    .into_iter()
                    .find(|m| m.name() == s)
                    .ok_or_else(|| {
                        let names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
                        format!(
                            "unknown mutant '{s}' for protocol {}; choose one of: {}",
                            $protocol,
                            names.join(", ")
                        )
                    })
            }
        }

        impl std::fmt::Display for Mutant {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
pub(crate) use mutants;
