//! Character sets and collations: how strings compare, sort, group and key.
//!
//! A collation turns a string into a *sort key*: a byte string whose byte
//! order is the collation's order and whose equality is the collation's
//! equality. Indexes, unique checks and certification keys are built from
//! sort keys (`keycode`), so `'a@x'` and `'A@x'` are the same key under a
//! case-insensitive collation, on every node.
//!
//! | collation | weights |
//! |---|---|
//! | `utf8mb4_general_ci` (MariaDB 10.11's default) | one weight per character: the upper case of its base letter (accents dropped); characters outside the BMP all weigh U+FFFD |
//! | `utf8mb4_unicode_ci` | the Unicode Collation Algorithm at primary strength (ICU4X root collation): case- and accent-insensitive, `ß` = `ss` |
//! | `utf8mb4_bin` | code points (UTF-8 byte order) |
//! | `latin1_swedish_ci` | Swedish order on Latin-1: `å ä ö` after `z`, `ü` = `y`, other accents dropped |
//! | `latin1_bin` | Latin-1 code points |
//! | `binary` | bytes, NO PAD |
//!
//! All but `binary` are PAD SPACE: trailing spaces are ignored, so `'a'`
//! equals `'a  '`. The `utf8mb3_*` collations weigh as their `utf8mb4_*`
//! twins; their character set refuses characters outside the BMP.
//!
//! Known deviation: a string ending in spaces followed by a character that
//! sorts below the space (a control character) orders as if the trailing
//! spaces were not padding. Equality is exact.

use std::cmp::Ordering;
use std::sync::OnceLock;

use icu_collator::options::{CollatorOptions, Strength};
use icu_collator::{CollatorBorrowed, CollatorPreferences};
use serde::{Deserialize, Serialize};

/// A character set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Charset {
    Utf8mb4,
    Utf8mb3,
    Latin1,
    Binary,
}

impl Charset {
    pub fn name(self) -> &'static str {
        match self {
            Charset::Utf8mb4 => "utf8mb4",
            Charset::Utf8mb3 => "utf8mb3",
            Charset::Latin1 => "latin1",
            Charset::Binary => "binary",
        }
    }

    /// `utf8` means `utf8mb3`, as in MariaDB 10.11.
    pub fn from_name(name: &str) -> Option<Charset> {
        Some(match name.to_ascii_lowercase().as_str() {
            "utf8mb4" => Charset::Utf8mb4,
            "utf8mb3" | "utf8" => Charset::Utf8mb3,
            "latin1" => Charset::Latin1,
            "binary" => Charset::Binary,
            _ => return None,
        })
    }

    pub fn default_collation(self) -> Collation {
        match self {
            Charset::Utf8mb4 => Collation::Utf8mb4GeneralCi,
            Charset::Utf8mb3 => Collation::Utf8mb3GeneralCi,
            Charset::Latin1 => Collation::Latin1SwedishCi,
            Charset::Binary => Collation::Binary,
        }
    }

    /// Longest encoding of one character, in bytes (`Maxlen`).
    pub fn max_len(self) -> u32 {
        match self {
            Charset::Utf8mb4 => 4,
            Charset::Utf8mb3 => 3,
            Charset::Latin1 | Charset::Binary => 1,
        }
    }

    /// The first character this set cannot hold, if any.
    pub fn unrepresentable(self, s: &str) -> Option<char> {
        match self {
            Charset::Utf8mb4 | Charset::Binary => None,
            Charset::Utf8mb3 => s.chars().find(|&c| u32::from(c) > 0xFFFF),
            Charset::Latin1 => s.chars().find(|&c| u32::from(c) > 0xFF),
        }
    }

    pub const ALL: [Charset; 4] = [
        Charset::Utf8mb4,
        Charset::Utf8mb3,
        Charset::Latin1,
        Charset::Binary,
    ];
}

/// A collation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Collation {
    #[default]
    Utf8mb4GeneralCi,
    Utf8mb4Bin,
    Utf8mb4UnicodeCi,
    Utf8mb3GeneralCi,
    Utf8mb3Bin,
    Utf8mb3UnicodeCi,
    Latin1SwedishCi,
    Latin1Bin,
    Binary,
    // Appended: checkpoints keep collations by position.
    Utf8mb4SwedishCi,
    Utf8mb4EsperantoCi,
    Latin1GeneralCs,
}

/// How a collation weighs characters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Weighing {
    General,
    /// ICU: the root order or a language's, at a strength.
    Unicode(Icu),
    CodePoint,
    Swedish,
    Bytes,
}

/// The ICU collators trireme uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Icu {
    /// Root order, primary strength (`*_unicode_ci`).
    RootCi,
    /// Swedish order, primary strength.
    SwedishCi,
    /// Esperanto order, primary strength.
    EsperantoCi,
    /// Root order, tertiary strength: case and accents count
    /// (`latin1_general_cs`; MariaDB's own latin1 table differs in the order
    /// of some symbols, not in what is equal).
    RootCs,
}

impl Collation {
    pub const ALL: [Collation; 12] = [
        Collation::Utf8mb4GeneralCi,
        Collation::Utf8mb4Bin,
        Collation::Utf8mb4UnicodeCi,
        Collation::Utf8mb3GeneralCi,
        Collation::Utf8mb3Bin,
        Collation::Utf8mb3UnicodeCi,
        Collation::Latin1SwedishCi,
        Collation::Latin1Bin,
        Collation::Binary,
        Collation::Utf8mb4SwedishCi,
        Collation::Utf8mb4EsperantoCi,
        Collation::Latin1GeneralCs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Collation::Utf8mb4GeneralCi => "utf8mb4_general_ci",
            Collation::Utf8mb4Bin => "utf8mb4_bin",
            Collation::Utf8mb4UnicodeCi => "utf8mb4_unicode_ci",
            Collation::Utf8mb3GeneralCi => "utf8mb3_general_ci",
            Collation::Utf8mb3Bin => "utf8mb3_bin",
            Collation::Utf8mb3UnicodeCi => "utf8mb3_unicode_ci",
            Collation::Latin1SwedishCi => "latin1_swedish_ci",
            Collation::Latin1Bin => "latin1_bin",
            Collation::Binary => "binary",
            Collation::Utf8mb4SwedishCi => "utf8mb4_swedish_ci",
            Collation::Utf8mb4EsperantoCi => "utf8mb4_esperanto_ci",
            Collation::Latin1GeneralCs => "latin1_general_cs",
        }
    }

    /// MySQL's collation id (result-set metadata, the handshake,
    /// information_schema.COLLATIONS).
    pub fn id(self) -> u16 {
        match self {
            Collation::Utf8mb4GeneralCi => 45,
            Collation::Utf8mb4Bin => 46,
            Collation::Utf8mb4UnicodeCi => 224,
            Collation::Utf8mb3GeneralCi => 33,
            Collation::Utf8mb3Bin => 83,
            Collation::Utf8mb3UnicodeCi => 192,
            Collation::Latin1SwedishCi => 8,
            Collation::Latin1Bin => 47,
            Collation::Binary => 63,
            Collation::Utf8mb4SwedishCi => 232,
            Collation::Utf8mb4EsperantoCi => 241,
            Collation::Latin1GeneralCs => 49,
        }
    }

    /// By name; `utf8_*` names mean `utf8mb3_*`, as in MariaDB 10.11.
    pub fn from_name(name: &str) -> Option<Collation> {
        let lower = name.to_ascii_lowercase();
        let lower = match lower.strip_prefix("utf8_") {
            Some(rest) => format!("utf8mb3_{rest}"),
            None => lower,
        };
        Collation::ALL.into_iter().find(|c| c.name() == lower)
    }

    pub fn from_id(id: u16) -> Option<Collation> {
        Collation::ALL.into_iter().find(|c| c.id() == id)
    }

    pub fn charset(self) -> Charset {
        match self {
            Collation::Utf8mb4GeneralCi
            | Collation::Utf8mb4Bin
            | Collation::Utf8mb4UnicodeCi
            | Collation::Utf8mb4SwedishCi
            | Collation::Utf8mb4EsperantoCi => Charset::Utf8mb4,
            Collation::Utf8mb3GeneralCi | Collation::Utf8mb3Bin | Collation::Utf8mb3UnicodeCi => {
                Charset::Utf8mb3
            }
            Collation::Latin1SwedishCi | Collation::Latin1Bin | Collation::Latin1GeneralCs => {
                Charset::Latin1
            }
            Collation::Binary => Charset::Binary,
        }
    }

    /// Whether this is its character set's default collation.
    pub fn is_default(self) -> bool {
        self.charset().default_collation() == self
    }

    /// A `_bin` collation or `binary`: wins a tie between two collations of
    /// the same coercibility (MySQL's rule).
    pub fn is_binary(self) -> bool {
        matches!(self.weighing(), Weighing::CodePoint | Weighing::Bytes)
    }

    pub fn pad_space(self) -> bool {
        self != Collation::Binary
    }

    fn weighing(self) -> Weighing {
        match self {
            Collation::Utf8mb4GeneralCi | Collation::Utf8mb3GeneralCi => Weighing::General,
            Collation::Utf8mb4UnicodeCi | Collation::Utf8mb3UnicodeCi => {
                Weighing::Unicode(Icu::RootCi)
            }
            Collation::Utf8mb4SwedishCi => Weighing::Unicode(Icu::SwedishCi),
            Collation::Utf8mb4EsperantoCi => Weighing::Unicode(Icu::EsperantoCi),
            Collation::Latin1GeneralCs => Weighing::Unicode(Icu::RootCs),
            Collation::Utf8mb4Bin | Collation::Utf8mb3Bin | Collation::Latin1Bin => {
                Weighing::CodePoint
            }
            Collation::Latin1SwedishCi => Weighing::Swedish,
            Collation::Binary => Weighing::Bytes,
        }
    }

    fn trim(self, s: &str) -> &str {
        if self.pad_space() {
            s.trim_end_matches(' ')
        } else {
            s
        }
    }

    /// Compares two strings.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        let (a, b) = (self.trim(a), self.trim(b));
        match self.weighing() {
            Weighing::CodePoint | Weighing::Bytes => a.as_bytes().cmp(b.as_bytes()),
            Weighing::General => a
                .chars()
                .map(general_weight)
                .cmp(b.chars().map(general_weight)),
            Weighing::Swedish => a
                .chars()
                .map(swedish_weight)
                .cmp(b.chars().map(swedish_weight)),
            Weighing::Unicode(icu) => icu.collator().compare(a, b),
        }
    }

    pub fn equal(self, a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }
        self.compare(a, b) == Ordering::Equal
    }

    /// Appends the sort key of `s`.
    pub fn sort_key(self, s: &str, out: &mut Vec<u8>) {
        let s = self.trim(s);
        match self.weighing() {
            Weighing::CodePoint | Weighing::Bytes => out.extend_from_slice(s.as_bytes()),
            Weighing::General => {
                for c in s.chars() {
                    out.extend_from_slice(&general_weight(c).to_be_bytes());
                }
            }
            Weighing::Swedish => {
                for c in s.chars() {
                    out.extend_from_slice(&swedish_weight(c).to_be_bytes());
                }
            }
            Weighing::Unicode(icu) => {
                // Writing into a Vec cannot fail.
                let _ = icu.collator().write_sort_key_to(s, out);
            }
        }
    }

    /// The sort key of `s` as a new vector.
    pub fn key_of(self, s: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len() * 2);
        self.sort_key(s, &mut out);
        out
    }

    /// Whether two characters are equal under this collation (LIKE).
    pub fn char_eq(self, a: char, b: char) -> bool {
        if a == b {
            return true;
        }
        match self.weighing() {
            Weighing::CodePoint | Weighing::Bytes => false,
            Weighing::General => general_weight(a) == general_weight(b),
            Weighing::Swedish => swedish_weight(a) == swedish_weight(b),
            Weighing::Unicode(icu) => {
                if a.is_ascii() && b.is_ascii() && icu != Icu::RootCs {
                    return a.eq_ignore_ascii_case(&b);
                }
                let (mut x, mut y) = ([0u8; 4], [0u8; 4]);
                icu.collator()
                    .compare(a.encode_utf8(&mut x), b.encode_utf8(&mut y))
                    == Ordering::Equal
            }
        }
    }

    /// Whether the two collations order and equate every string alike.
    pub fn same_order(self, other: Collation) -> bool {
        self.weighing() == other.weighing()
    }
}

/// `utf8mb4_general_ci`'s weight of a character.
fn general_weight(c: char) -> u16 {
    let cp = u32::from(c);
    if cp < 0x80 {
        return u16::from((c as u8).to_ascii_uppercase());
    }
    if cp > 0xFFFF {
        return 0xFFFD;
    }
    general_table()[cp as usize]
}

fn general_table() -> &'static [u16] {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    TABLE.get_or_init(|| (0..=0xFFFFu32).map(general_weight_slow).collect())
}

/// Derives a BMP character's general_ci weight from Unicode data: the base
/// character of its canonical decomposition (when the rest are combining
/// marks), in upper case when that is one BMP character.
fn general_weight_slow(cp: u32) -> u16 {
    let Some(c) = char::from_u32(cp) else {
        return cp as u16;
    };
    if let Some(&w) = GENERAL_EXCEPTIONS
        .iter()
        .find(|(x, _)| *x == c)
        .map(|(_, w)| w)
    {
        return w;
    }
    let base = base_letter(c);
    let mut upper = base.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if u32::from(u) <= 0xFFFF => u32::from(u) as u16,
        _ => u32::from(base) as u16,
    }
}

/// Characters whose general_ci weight is not what the Unicode derivation
/// gives (MariaDB's table predates some case mappings and treats a few
/// letters as their base letter).
const GENERAL_EXCEPTIONS: &[(char, u16)] = &[
    // ß weighs as S (not as "SS": general_ci has no expansions).
    ('ß', b'S' as u16),
];

/// The first character of `c`'s canonical decomposition, when everything
/// after it is a combining mark; else `c`.
fn base_letter(c: char) -> char {
    let mut parts = Vec::with_capacity(3);
    unicode_normalization::char::decompose_canonical(c, |d| parts.push(d));
    match parts.split_first() {
        Some((&first, rest))
            if rest
                .iter()
                .all(|&m| unicode_normalization::char::is_combining_mark(m)) =>
        {
            first
        }
        _ => c,
    }
}

/// `latin1_swedish_ci`'s weight of a character. Only Latin-1 characters
/// can be stored in a latin1 column; anything else (a literal compared with
/// one) weighs as its code point, after every Latin-1 letter.
fn swedish_weight(c: char) -> u32 {
    let cp = u32::from(c);
    if cp > 0xFF {
        return 0x100 + cp;
    }
    let z = u32::from(b'Z');
    match c {
        // Swedish letters after Z, in alphabet order: Å, Ä (= Æ), Ö (= Ø).
        'Å' | 'å' => z + 1,
        'Ä' | 'ä' | 'Æ' | 'æ' => z + 2,
        'Ö' | 'ö' | 'Ø' | 'ø' => z + 3,
        'Ü' | 'ü' | 'ÿ' => u32::from(b'Y'),
        'Ð' | 'ð' => u32::from(b'D'),
        'ß' => u32::from(b'S'),
        _ => match u32::from(general_weight(c)) {
            w if w <= 0xFF => w,
            _ => cp,
        },
    }
}

impl Icu {
    fn collator(self) -> &'static CollatorBorrowed<'static> {
        static ROOT_CI: OnceLock<CollatorBorrowed<'static>> = OnceLock::new();
        static SWEDISH_CI: OnceLock<CollatorBorrowed<'static>> = OnceLock::new();
        static ESPERANTO_CI: OnceLock<CollatorBorrowed<'static>> = OnceLock::new();
        static ROOT_CS: OnceLock<CollatorBorrowed<'static>> = OnceLock::new();
        let (cell, locale, strength) = match self {
            Icu::RootCi => (&ROOT_CI, "und", Strength::Primary),
            Icu::SwedishCi => (&SWEDISH_CI, "sv", Strength::Primary),
            Icu::EsperantoCi => (&ESPERANTO_CI, "eo", Strength::Primary),
            Icu::RootCs => (&ROOT_CS, "und", Strength::Tertiary),
        };
        cell.get_or_init(|| {
            let mut options = CollatorOptions::default();
            options.strength = Some(strength);
            // These locales are constants and their data is compiled into
            // the crate, so neither step can fail at run time; a failure is
            // a build defect.
            let locale: icu_locale_core::Locale = locale.parse().expect("a constant, valid locale");
            CollatorBorrowed::try_new(CollatorPreferences::from(&locale), options)
                .expect("ICU4X collation data is compiled in")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn general_ci_folds_case_and_accents_and_pads() {
        let c = Collation::Utf8mb4GeneralCi;
        assert!(c.equal("bob@example.com", "Bob@Example.COM"));
        assert!(c.equal("résumé", "RESUME"));
        assert!(c.equal("a", "a   "));
        assert!(c.equal("straße", "strase"));
        assert!(!c.equal("a", "b"));
        assert_eq!(c.compare("bob", "Carol"), Ordering::Less);
        assert_eq!(c.compare("apple", "Banana"), Ordering::Less);
        // Outside the BMP every character weighs the same.
        assert!(c.equal("😀", "😁"));
    }

    #[test]
    fn unicode_ci_expands_and_bin_is_exact() {
        let u = Collation::Utf8mb4UnicodeCi;
        assert!(u.equal("straße", "STRASSE"));
        assert!(u.equal("Å", "a"));
        assert_eq!(u.compare("a", "B"), Ordering::Less);
        let b = Collation::Utf8mb4Bin;
        assert!(!b.equal("a", "A"));
        assert!(b.equal("a ", "a"));
        assert_eq!(b.compare("B", "a"), Ordering::Less);
        assert!(!Collation::Binary.equal("a ", "a"));
    }

    #[test]
    fn language_collations_follow_their_alphabets() {
        let sv = Collation::Utf8mb4SwedishCi;
        assert_eq!(sv.compare("zebra", "ärlig"), Ordering::Less);
        assert!(sv.equal("ÄRLIG", "ärlig"));
        let eo = Collation::Utf8mb4EsperantoCi;
        // Esperanto's ĉ is a letter of its own, after c.
        assert_eq!(eo.compare("cz", "ĉa"), Ordering::Less);
        assert!(!eo.equal("ĉa", "ca"));
        assert!(eo.equal("ĈA", "ĉa"));
        let cs = Collation::Latin1GeneralCs;
        assert!(!cs.equal("a", "A"));
        assert!(!cs.char_eq('a', 'A'));
        assert_eq!(cs.compare("a", "b"), Ordering::Less);
        assert_eq!(Collation::from_name("utf8mb4_esperanto_ci"), Some(eo));
        assert_eq!(Collation::from_id(49), Some(cs));
    }

    #[test]
    fn swedish_puts_its_letters_after_z() {
        let s = Collation::Latin1SwedishCi;
        assert_eq!(s.compare("zebra", "ål"), Ordering::Less);
        assert_eq!(s.compare("ål", "äpple"), Ordering::Less);
        assert_eq!(s.compare("äpple", "öl"), Ordering::Less);
        assert!(s.equal("über", "yber"));
        assert!(s.equal("École", "ecole"));
    }

    #[test]
    fn names_and_ids() {
        for c in Collation::ALL {
            assert_eq!(Collation::from_name(c.name()), Some(c));
            assert_eq!(Collation::from_id(c.id()), Some(c));
        }
        assert_eq!(
            Collation::from_name("UTF8_GENERAL_CI"),
            Some(Collation::Utf8mb3GeneralCi)
        );
        assert_eq!(Charset::from_name("utf8"), Some(Charset::Utf8mb3));
        assert_eq!(
            Charset::Utf8mb4.default_collation().name(),
            "utf8mb4_general_ci"
        );
    }

    proptest! {
        /// Sort keys order and equate strings exactly as `compare` does, so
        /// indexes and certification keys agree with comparisons.
        #[test]
        fn sort_keys_agree_with_compare(
            a in "[ a-cA-CéÉßå😀\u{0}\t]{0,6}",
            b in "[ a-cA-CéÉßå😀\u{0}\t]{0,6}",
        ) {
            for c in Collation::ALL {
                let (ka, kb) = (c.key_of(&a), c.key_of(&b));
                let by_key = ka.cmp(&kb);
                let direct = c.compare(&a, &b);
                prop_assert_eq!(by_key, direct, "{} {:?} {:?}", c.name(), a, b);
            }
        }
    }
}
