//! The numbers of the notation: counts (`120`), sizes (`5` or `5x3`: one integer literal whose
//! suffix is `x3`), and rates (`0.5`, `-0.1`).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::ParseStream;
use syn::{Error, Lit, LitInt, Result, Token};

/// A parsed number and the tokens it came from.
pub struct Spanned<T> {
    pub value: T,
    pub tokens: TokenStream,
}

/// `N`: a whole number. `what` names it in errors ("a filter count"), `example` shows it in use.
pub fn count(input: ParseStream, what: &str, example: &str) -> Result<Spanned<usize>> {
    let lit = int_literal(input, what, example)?;
    let text = lit.to_string();
    let value = parse_usize(&text)
        .ok_or_else(|| Error::new(lit.span(), format!("expected {what}, a whole number ({example}), got `{text}`")))?;
    Ok(Spanned { value, tokens: lit.to_token_stream() })
}

/// `N` or `HxW`: a size; `N` means `NxN`.
pub fn size(input: ParseStream, what: &str) -> Result<Spanned<[usize; 2]>> {
    let lit = int_literal(input, what, "e.g. `5` or `5x3`")?;
    let text = lit.to_string();
    let value = parse_size(&text).ok_or_else(|| {
        Error::new(lit.span(), format!("expected {what} such as `5` or `5x3` (rows x columns), got `{text}`"))
    })?;
    Ok(Spanned { value, tokens: lit.to_token_stream() })
}

/// `C@HxW`: channels at a size.
pub fn channels_at(input: ParseStream, what: &str, example: &str) -> Result<(Spanned<usize>, Spanned<[usize; 2]>)> {
    let channels = count(input, what, &format!("e.g. `{example}`"))?;
    if !input.peek(Token![@]) {
        return Err(input.error(format!("expected `@` after {what}: write it as `{example}`")));
    }
    input.parse::<Token![@]>()?;
    let size = size(input, "a size")?;
    Ok((channels, size))
}

/// A real number, possibly negative: `0.5`, `1`, `-0.2`.
pub fn real(input: ParseStream, what: &str) -> Result<Spanned<f32>> {
    let mut tokens = TokenStream::new();
    let negative = input.peek(Token![-]);
    if negative {
        input.parse::<Token![-]>()?.to_tokens(&mut tokens);
    }
    let lit: Lit =
        input.parse().map_err(|e| Error::new(e.span(), format!("expected {what}, a number such as `0.5`")))?;
    lit.to_tokens(&mut tokens);
    let value = match &lit {
        Lit::Float(f) if f.suffix().is_empty() || f.suffix() == "f32" => f.base10_parse::<f32>().ok(),
        Lit::Int(i) if i.suffix().is_empty() => i.base10_parse::<f32>().ok(),
        _ => None,
    };
    let value = value.ok_or_else(|| Error::new_spanned(&lit, format!("expected {what}, a number such as `0.5`")))?;
    Ok(Spanned { value: if negative { -value } else { value }, tokens })
}

/// True if the next token starts a number.
pub fn peek_number(input: ParseStream) -> bool {
    input.peek(syn::LitFloat) || input.peek(syn::LitInt) || input.peek(Token![-])
}

fn int_literal(input: ParseStream, what: &str, example: &str) -> Result<LitInt> {
    if input.peek(syn::LitFloat) {
        let f: syn::LitFloat = input.parse()?;
        return Err(Error::new(f.span(), format!("expected {what}, a whole number ({example}), got `{f}`")));
    }
    input.parse::<LitInt>().map_err(|e| Error::new(e.span(), format!("expected {what} ({example})")))
}

fn parse_usize(text: &str) -> Option<usize> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `5` → `[5, 5]`, `5x3` → `[5, 3]`. (`0x5` reaches us as its text, so it reads as a 0x5 size.)
fn parse_size(text: &str) -> Option<[usize; 2]> {
    match text.split_once('x') {
        None => parse_usize(text).map(|n| [n, n]),
        Some((h, w)) => Some([parse_usize(h)?, parse_usize(w)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5"), Some([5, 5]));
        assert_eq!(parse_size("5x3"), Some([5, 3]));
        assert_eq!(parse_size("0x5"), Some([0, 5]));
        assert_eq!(parse_size("1_000x2"), Some([1000, 2]));
        assert_eq!(parse_size("5x5x5"), None);
        assert_eq!(parse_size("5u8"), None);
        assert_eq!(parse_size("x5"), None);
        assert_eq!(parse_size("99999999999999999999999"), None);
    }
}
