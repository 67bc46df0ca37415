//! "Did you mean …?" for misspelt layer names and options.

/// Common names from Keras and PyTorch, and what they are called here.
const ALIASES: &[(&str, &str)] = &[
    ("Conv2d", "Conv2D"),
    ("Convolution2D", "Conv2D"),
    ("MaxPooling2D", "MaxPool"),
    ("MaxPool2d", "MaxPool"),
    ("AveragePooling2D", "AvgPool"),
    ("AvgPool2d", "AvgPool"),
    ("Linear", "Dense"),
    ("BatchNormalization", "BatchNorm"),
    ("BatchNorm2d", "BatchNorm"),
    ("BatchNorm1d", "BatchNorm"),
    ("ZeroPadding2D", "ZeroPad"),
    ("ZeroPad2d", "ZeroPad"),
    ("Input", "input"),
];

/// The known word closest to `word`, if it is close enough to be a likely typo or an alias.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == word) {
        return known.iter().copied().find(|k| k == to);
    }
    let lower = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["Conv2D", "MaxPool", "AvgPool", "Dense", "Flatten", "ReLU"];

    #[test]
    fn typos_case_and_aliases_find_the_name() {
        assert_eq!(closest("Conv2", KNOWN), Some("Conv2D"));
        assert_eq!(closest("dense", KNOWN), Some("Dense"));
        assert_eq!(closest("Flaten", KNOWN), Some("Flatten"));
        assert_eq!(closest("MaxPooling2D", KNOWN), Some("MaxPool"));
        assert_eq!(closest("Linear", KNOWN), Some("Dense"));
    }

    #[test]
    fn unrelated_words_find_nothing() {
        assert_eq!(closest("Transformer", KNOWN), None);
        assert_eq!(closest("x", KNOWN), None);
    }

    #[test]
    fn distance_is_levenshtein() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
    }
}
