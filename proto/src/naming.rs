//! Names for files made from titles: lowercase ASCII slugs. Here, in the
//! leaf crate, so ingest and the transcode's signed names share one rule
//! without one stage crate importing another.

/// The longest slug [`slug()`] returns, in bytes (= characters: slugs are ASCII).
pub const SLUG_MAX_LEN: usize = 60;

/// What the `slug` crate would otherwise turn into word breaks: apostrophes and
/// the Cyrillic soft and hard signs mark a sound, not a break ("Ньютона" is
/// "niutona", "Newton's" is "newtons"), and `slug` spells five Kazakh letters
/// with an apostrophe ("қ" as "k'"). Those five follow the Kazakh Latin
/// alphabet of 2021 without its diacritics: ә a, ғ g, қ q, ң n, ұ u.
fn prepare(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\'' | '\u{2019}' | '\u{02BC}' | 'ь' | 'Ь' | 'ъ' | 'Ъ' => {}
            'ә' | 'Ә' => out.push('a'),
            'ғ' | 'Ғ' => out.push('g'),
            'қ' | 'Қ' => out.push('q'),
            'ң' | 'Ң' => out.push('n'),
            'ұ' | 'Ұ' => out.push('u'),
            other => out.push(other),
        }
    }
    out
}

/// A lowercase ASCII slug of `s` for file names: letters and digits, words
/// joined by single dashes, no leading or trailing dash. Other scripts are
/// transliterated by the `slug` crate, after the fixes in `prepare` for
/// apostrophes, soft and hard signs and Kazakh letters: "Законы Ньютона" →
/// "zakony-niutona", "Қазақстан тарихы" → "qazaqstan-tarikhy". Longer than
/// [`SLUG_MAX_LEN`], it is cut at the last dash that keeps it within the
/// limit (a single word longer than that is cut at the limit). A string with no letters or digits gives
/// "" — the caller chooses a fallback name.
pub fn slug(s: &str) -> String {
    let full = ::slug::slugify(prepare(s));
    if full.len() <= SLUG_MAX_LEN {
        return full;
    }
    // `slugify` yields ASCII only, so every byte index is a char boundary.
    let cut = if full.as_bytes().get(SLUG_MAX_LEN) == Some(&b'-') {
        SLUG_MAX_LEN
    } else {
        full.get(..SLUG_MAX_LEN)
            .and_then(|head| head.rfind('-'))
            .unwrap_or(SLUG_MAX_LEN)
    };
    full.chars().take(cut).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyrillic_and_kazakh_are_transliterated() {
        assert_eq!(slug("Законы Ньютона"), "zakony-niutona");
        assert_eq!(
            slug("Қазақстан тарихы: Әл-Фараби"),
            "qazaqstan-tarikhy-al-farabi"
        );
        assert_eq!(
            slug("Әдебиет, ұлттық өнер, Ғылым, Үкімет, Һ, Іс"),
            "adebiet-ulttyq-oner-gylym-ukimet-h-is"
        );
        assert_eq!(slug("Объём и подъезд"), "obiom-i-podezd");
        assert_eq!(
            slug("Newton’s laws, Newton's laws"),
            "newtons-laws-newtons-laws"
        );
        assert_eq!(slug("Physics 101 — Lecture 3!"), "physics-101-lecture-3");
        assert_eq!(slug("  --Intro__  "), "intro");
        assert_eq!(slug("?!…"), "");
    }

    #[test]
    fn long_slugs_are_cut_at_a_dash() {
        // 12 words of 4 letters: "word-word-…" is 59 characters after 12 words.
        let words = ["abcd"; 15].join(" ");
        let cut = slug(&words);
        assert_eq!(cut, ["abcd"; 12].join("-"));
        assert_eq!(cut.len(), 59);

        // A dash exactly at the limit: the first 60 characters are whole words.
        let exact = format!("{} {}", "a".repeat(29), "b".repeat(30));
        assert_eq!(slug(&format!("{exact} more words")), slug(&exact));
        assert_eq!(slug(&exact).len(), 60);

        // One word longer than the limit is cut at the limit.
        assert_eq!(slug(&"x".repeat(100)), "x".repeat(60));

        // Transliteration can lengthen the text; the limit applies to the slug.
        let long_ru = "Законы Ньютона и их применение в механике твёрдого тела";
        let s = slug(long_ru);
        assert!(s.len() <= SLUG_MAX_LEN && !s.ends_with('-'), "{s}");
        assert!(slug(long_ru).starts_with("zakony-"), "{s}");
    }
}
